"""spec.dependsOn against a real API server: a site's data store in its verdict and what-if, followed
through the store's EndpointSlices (no polling), never written to."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest

from .cluster import KubectlError, apply, get, kubectl, status, wait_for
from .conftest import Operator, zone_nodes, zones
from .faults import NOTICE_S, lose_zone
from .sites import SITE_IMAGE, manifest, spofs, wait_phase

ZONE_KEY = "topology.kubernetes.io/zone"


def data_store(name: str, namespace: str, replicas: int, zone: str | None = None) -> None:
    """A Deployment and its Service, made by hand (not by spofless): spread over zones and nodes,
    or pinned to `zone` and spread over its nodes."""
    spread: list[dict[str, Any]] = [
        {"maxSkew": 1, "topologyKey": "kubernetes.io/hostname", "whenUnsatisfiable": "DoNotSchedule",
         "labelSelector": {"matchLabels": {"app": name}}},
    ]  # fmt: skip
    if zone is None:
        spread.append(
            {"maxSkew": 1, "topologyKey": ZONE_KEY, "whenUnsatisfiable": "DoNotSchedule",
             "labelSelector": {"matchLabels": {"app": name}}}
        )  # fmt: skip
    pod_spec: dict[str, Any] = {
        "containers": [{"name": "db", "image": SITE_IMAGE, "ports": [{"containerPort": 5432}]}],
        "topologySpreadConstraints": spread,
    }
    if zone is not None:
        pod_spec["nodeSelector"] = {ZONE_KEY: zone}
    apply(
        {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {"name": name, "namespace": namespace},
            "spec": {
                "replicas": replicas,
                "selector": {"matchLabels": {"app": name}},
                "template": {"metadata": {"labels": {"app": name}}, "spec": pod_spec},
            },
        }
    )
    apply(
        {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": {"name": name, "namespace": namespace},
            "spec": {"selector": {"app": name}, "ports": [{"port": 5432}]},
        }
    )


def dependency(name: str, namespace: str) -> dict[str, Any]:
    return next(iter(status(name, namespace).get("dependencies") or []), {})


def loss(name: str, namespace: str) -> dict[str, dict[str, Any]]:
    return {row["zone"]: row for row in status(name, namespace).get("zoneLoss", [])}


def site_condition(name: str, namespace: str, kind: str) -> dict[str, Any]:
    return next((c for c in status(name, namespace).get("conditions", []) if c["type"] == kind), {})


def test_a_one_replica_data_store_puts_a_redundant_web_tier_at_risk_until_it_is_spread(ns: str) -> None:
    data_store("db", ns, replicas=1)
    apply(manifest("shop", ns, replicas=6, dependsOn=[{"service": "db"}]))
    # Waited for together: until the site's own EndpointSlice shows the ready pods, Service shop is
    # rightly a SPOF as well.
    wait_phase("shop", ns, "AtRisk", readyReplicas=6, timeout=120,
               singlePointsOfFailure=lambda fs: spofs(fs) == {("Dependency", f"{ns}/db")})  # fmt: skip
    # The store's endpoint too: its EndpointSlice follows its pod a moment later, and with no ready
    # endpoint the store is as much a Dependency SPOF as with one.
    dep = wait_for(
        "the data store's workload and its ready endpoint",
        lambda: (d := dependency("shop", ns)).get("workloads") and d.get("readyEndpoints") == 1 and d,
    )
    assert dep["workloads"] == [{"kind": "Deployment", "name": "db", "replicas": 1}]
    assert dep["required"] is True and dep["found"] is True
    [db_zone] = dep["zones"]
    row = loss("shop", ns)[db_zone]
    assert row["down"] is True and row["dependencies"] == [{"service": f"{ns}/db", "readyEndpointsLeft": 0}]
    assert row["readyReplicasLeft"] == 4, "the web tier alone would survive"

    kubectl("scale", "deployment/db", "-n", ns, "--replicas=3")
    wait_for("3 ready endpoints", lambda: dependency("shop", ns).get("readyEndpoints") == 3, 120)
    st = wait_phase("shop", ns, "Redundant", readyReplicas=6, timeout=120)
    dep = st["dependencies"][0]
    assert sorted(dep["zones"]) == zones()[:3]
    assert dep["workloads"] == [{"kind": "Deployment", "name": "db", "replicas": 3}]
    assert all(r["down"] is False for r in st["zoneLoss"])
    managers = {
        m["manager"]
        for kind in ("deployment", "service")
        for m in json.loads(kubectl("get", kind, "db", "-n", ns, "--show-managed-fields", "-o", "json"))["metadata"][
            "managedFields"
        ]
    }
    assert "spofless" not in managers, "spofless never writes to a dependency"


def test_losing_the_data_stores_zone_shows_in_the_status_within_seconds(ns: str, healthy_nodes: None) -> None:
    a = zones()[0]
    data_store("db", ns, replicas=2, zone=a)
    apply(manifest("shop", ns, replicas=6, dependsOn=[{"service": "db"}]))
    # Both of the store's endpoints ready, not the first alone: with real containers the second can
    # turn ready a moment later, and one endpoint is another finding ("only one endpoint is ready").
    st = wait_phase("shop", ns, "AtRisk", readyReplicas=6, timeout=120,
                    dependencies=lambda deps: bool(deps) and deps[0].get("readyEndpoints") == 2)  # fmt: skip
    # The narrowest shared domain is named: zone a, or its node when both endpoints share one
    # (always on kind, whose zones have one worker each).
    message = next(f for f in st["singlePointsOfFailure"] if f["scope"] == "Dependency")["message"]
    assert any(w in message for w in [f"in zone {a}", *(f"on node {n}" for n in zone_nodes(a))]), message
    wait_for("what-if: losing the store's zone takes the site down", lambda: loss("shop", ns)[a].get("down"))

    started = lose_zone(a)
    wait_for(
        "the store reported without endpoints",
        lambda: dependency("shop", ns).get("readyEndpoints") == 0,
        60 + NOTICE_S,
    )
    print(f"zone outage -> dependency status: {time.monotonic() - started:.1f} s")
    ready = wait_for(
        "DependenciesReady=False",
        lambda: (c := site_condition("shop", ns, "DependenciesReady")).get("status") == "False" and c,
    )
    assert ready["reason"] == "NoReadyEndpoints"
    assert any("no ready endpoint" in f["message"] for f in status("shop", ns)["singlePointsOfFailure"])
    assert all(r["dependencies"][0]["readyEndpointsLeft"] == 0 for r in loss("shop", ns).values())


def test_a_missing_dependency_is_a_clear_condition_and_is_picked_up_when_it_appears(
    ns: str, operator: Operator | None
) -> None:
    starts = operator.starts if operator else 0
    apply(manifest("shop", ns, replicas=3, dependsOn=[{"service": f"{ns}/later"}]))
    st = wait_phase("shop", ns, "AtRisk", readyReplicas=3, timeout=120)
    ready = next(c for c in st["conditions"] if c["type"] == "DependenciesReady")
    assert (ready["status"], ready["reason"]) == ("False", "DependencyNotFound")
    assert f"{ns}/later" in ready["message"]
    assert st["dependencies"][0]["found"] is False

    data_store("later", ns, replicas=3)
    # Redundant needs the store's endpoints in two zones, not all three ready: with real containers
    # the third can turn ready a moment later, so the count is waited for, not read once.
    st = wait_phase(
        "shop", ns, "Redundant", readyReplicas=3, timeout=120,
        dependencies=lambda deps: bool(deps) and deps[0].get("readyEndpoints") == 3,
    )  # fmt: skip
    assert next(c for c in st["conditions"] if c["type"] == "DependenciesReady")["status"] == "True"
    if operator is not None:
        assert operator.starts == starts, "picked up without a restart"


def test_an_optional_dependency_only_warns(ns: str) -> None:
    data_store("cache", ns, replicas=1)
    apply(manifest("shop", ns, replicas=3, dependsOn=[{"service": "cache", "required": False}]))
    st = wait_phase("shop", ns, "Redundant", readyReplicas=3, timeout=120)
    wait_for(
        "a warning about the cache",
        lambda: any(
            f["scope"] == "Dependency" and f["severity"] == "Warning"
            for f in status("shop", ns).get("singlePointsOfFailure", [])
        ),
    )
    assert st["spof"] is False


@pytest.mark.parametrize(
    ("depends_on", "message"),
    [
        ([{"service": "Bad_Name"}], "must name a Service"),
        ([{"service": "a/b/c"}], "must name a Service"),
        ([{"service": "db"}, {"service": "db", "required": False}], "must not list a Service twice"),
    ],
)
def test_malformed_dependencies_are_refused_with_a_readable_message(
    ns: str, depends_on: list[dict[str, Any]], message: str
) -> None:
    with pytest.raises(KubectlError, match=message):
        apply(manifest("shop", ns, dependsOn=depends_on))
    assert get("resilientsite", "shop", ns) is None
