"""Set-up for the data-center scenarios: the data centers hack/datacenters.sh brought up (its JSON file
in SPOFLESS_DATACENTERS_FILE), the CRD in every cluster, one spofless per data center, and one site
applied in all of them, as GitOps would."""

from __future__ import annotations

import functools
import os
import signal
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from tests.e2e.cluster import wait_for

from .world import ROOT, DataCenter, World, load, store_logs

FAILBACK_SECONDS = 20
REPLICAS = 6


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "tests/datacenters" in str(item.fspath):
            item.add_marker(pytest.mark.datacenters)


@pytest.fixture(scope="session")
def world() -> Iterator[World]:
    if not os.environ.get("SPOFLESS_DATACENTERS_FILE"):
        pytest.fail("SPOFLESS_DATACENTERS_FILE is not set: run hack/datacenters.sh up, then eval its env lines "
                    "(hack/test.sh does both)", pytrace=False)  # fmt: skip
    w = load()
    for dc in w.datacenters:
        dc.kubectl("apply", "--server-side", "--force-conflicts", "-f", str(ROOT / "crds"))
    for dc in w.datacenters:
        wait_for(f"the CRD in {dc.name}", functools.partial(established, dc))
        dc.start_operator()
    try:
        yield w
    finally:
        for dc in w.datacenters:
            dc.signal_operator(signal.SIGTERM)


def established(dc: DataCenter) -> bool:
    jsonpath = "jsonpath={.status.conditions[?(@.type=='Established')].status}"
    return "True" in dc.kubectl("get", "crd", "resilientsites.spofless.dev", "-o", jsonpath, check=False)


def site(namespace: str, hostname: str) -> dict[str, Any]:
    return {
        "apiVersion": "spofless.dev/v1alpha1",
        "kind": "ResilientSite",
        "metadata": {"name": "shop", "namespace": namespace},
        "spec": {
            "replicas": REPLICAS,
            "template": {"spec": {"containers": [{"name": "web", "image": "nginx:1.27"}]}},
            "dataCenters": {
                "members": ["dc1", "dc2", "dc3"],
                "hostname": hostname,
                "ttlSeconds": 5,
                "failbackAfterSeconds": FAILBACK_SECONDS,
            },
        },
    }


@pytest.fixture
def shop(world: World, request: pytest.FixtureRequest) -> Iterator[str]:
    """The site in every data center, each serving its share and in DNS; every data center whole again
    after the test, whatever it broke."""
    namespace = f"dc-{request.node.name[5:25].replace('_', '-').strip('-')}-{uuid.uuid4().hex[:4]}"
    world.label = namespace  # its own hostname: records of the last test's site may still be going
    for dc in world.datacenters:
        dc.kubectl("create", "namespace", namespace)
        dc.apply(site(namespace, world.hostname))
    try:
        try:
            wait_for("every data center serving its share and in DNS", lambda: steady(world, namespace), timeout=120)
        except AssertionError:
            print_logs(world, namespace)  # a setup that never settles says why, as a failed test does
            raise
        yield namespace
    finally:
        failed = getattr(request.node, "rep_call", None)
        if failed is not None and failed.failed:
            print_logs(world, namespace)
        heal(world)
        for dc in world.datacenters:
            dc.kubectl("delete", "namespace", namespace, "--wait=false", check=False)


def print_logs(world: World, namespace: str) -> None:
    """Every data center's view of the site and its operator's log, and the store's members' logs."""
    for dc in world.datacenters:
        try:
            print(f"--- {dc.name} site status ---\n{dc.status('shop', namespace)}")
        except Exception as err:  # a data center still down: say so and go on to the logs
            print(f"--- {dc.name} site status: unreadable ({err}) ---")
        print(f"--- {dc.name} operator log ---\n{dc.operator_log()}")
    for member, tail in store_logs().items():
        print(f"--- {member} log ---\n{tail}")


def steady(world: World, namespace: str) -> bool:
    names = {d.name for d in world.datacenters}
    for dc in world.datacenters:
        entries = dc.status("shop", namespace).get("dataCenters") or []
        if {e["name"] for e in entries if e["live"] and e.get("inDns")} != names:
            return False
        if dc.ready("shop", namespace) < REPLICAS // len(names):
            return False
        conditions = dc.status("shop", namespace).get("conditions", [])
        failover: dict[str, Any] = next((c for c in conditions if c["type"] == "DataCenterFailover"), {})
        if failover.get("reason") != "AllLive":  # no member lost or returning: no share carried by another
            return False
    return all(world.in_dns(dc) == names for dc in world.datacenters)


def heal(world: World) -> None:
    """Every data center's processes running, its uplink open, its spofless up."""
    for dc in world.datacenters:
        world.script("resume", dc.name)
        dc.uplink.mend()
        world.script("start", dc.name)
        if dc.proc is None or dc.proc.poll() is not None:
            dc.start_operator()
        else:
            dc.signal_operator(signal.SIGCONT)
    for member in ("dc1", "dc2", "dc3"):
        world.script("start-member", member)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    report = yield
    setattr(item, f"rep_{report.when}", report)
    return report


__all__ = ["DataCenter"]
