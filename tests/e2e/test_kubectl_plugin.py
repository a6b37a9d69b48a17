"""`kubectl spofless`: the plugin run by the real kubectl (the one built with the control plane),
found on PATH as kubectl finds plugins, against a site whose database stands in one zone. The
plugin only reads, so it runs the same against the suite's operator and an in-cluster one."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from .cluster import KUBECTL, apply, get
from .conftest import zones
from .sites import SITE_IMAGE, manifest, spofs, wait_phase

PLUGIN_DIR = Path(sys.executable).parent  # where `pip install` put the kubectl-spofless entry point
ZONE_KEY = "topology.kubernetes.io/zone"


def kubectl_spofless(*args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PATH": f"{PLUGIN_DIR}{os.pathsep}{os.environ.get('PATH', '')}"}
    done = subprocess.run([KUBECTL, "spofless", *args], capture_output=True, text=True, timeout=120, env=env)
    assert "Traceback" not in done.stderr, done.stderr
    return done


def database(ns: str, zone: str) -> list[dict[str, Any]]:
    """One database pod pinned to `zone`, behind Service db: the pillar the site stands on."""
    labels = {"app": "db"}
    return [
        {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "db", "namespace": ns},
         "spec": {"replicas": 1, "selector": {"matchLabels": labels},
                  "template": {"metadata": {"labels": labels},
                               "spec": {"nodeSelector": {ZONE_KEY: zone},
                                        "containers": [{"name": "db", "image": SITE_IMAGE,
                                                        "ports": [{"containerPort": 8080}]}]}}}},
        {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "db", "namespace": ns},
         "spec": {"selector": labels, "ports": [{"port": 80, "targetPort": 8080}]}},
    ]  # fmt: skip


@pytest.fixture
def shop(ns: str) -> tuple[str, str]:
    """Site shop, one replica per zone, depending on db, whose one pod is in the first zone."""
    zone = zones()[0]
    for obj in database(ns, zone):
        apply(obj)
    apply(manifest("shop", ns, replicas=3, dependsOn=[{"service": "db"}]))

    def judged(rows: Any) -> bool:
        return bool(rows) and any(r.get("zone") == zone and r.get("down") for r in rows)

    def only_the_database(entries: Any) -> bool:
        # The pods turn ready before the site's own EndpointSlice says so: until it does, the
        # status rightly names Service shop as a SPOF too. Wait for the judgement to settle.
        return spofs(entries) == {("Dependency", f"{ns}/db")}

    wait_phase(
        "shop", ns, "AtRisk", timeout=180, readyReplicas=3, zoneLoss=judged, singlePointsOfFailure=only_the_database
    )
    return ns, zone


def test_kubectl_finds_the_plugin_on_path() -> None:
    assert (PLUGIN_DIR / "kubectl-spofless").exists(), "`pip install -e .` installs the kubectl-spofless entry point"
    env = {**os.environ, "PATH": f"{PLUGIN_DIR}{os.pathsep}{os.environ.get('PATH', '')}"}
    listed = subprocess.run([KUBECTL, "plugin", "list"], capture_output=True, text=True, timeout=60, env=env)
    assert str(PLUGIN_DIR / "kubectl-spofless") in listed.stdout, listed.stdout + listed.stderr
    done = kubectl_spofless("--help")
    assert done.returncode == 0 and "usage: kubectl spofless" in done.stdout
    assert "{audit,whatif,explain,version}" in done.stdout, "the plugin only reads: no run, no crd"


def test_whatif_losing_the_database_zone_takes_the_site_down(shop: tuple[str, str]) -> None:
    ns, zone = shop
    done = kubectl_spofless("whatif", "--lose", zone, "-n", ns, "-o", "json")
    assert done.returncode == 1, f"something would go down, so --fail-on down fails:\n{done.stdout}{done.stderr}"
    answer = json.loads(done.stdout)
    verdicts = {(o["kind"], o["name"]): o for o in answer["workloads"] + answer["services"]}
    assert verdicts[("Deployment", "db")]["verdict"] == "Down"
    assert verdicts[("Service", "db")]["verdict"] == "Down"
    site = verdicts[("ResilientSite", "shop")]
    assert (site["verdict"], site["readyNow"], site["readyLeft"]) == ("Down", 3, 2)
    assert site["standingOn"] == f"{ns}/db: no ready endpoint left"
    assert any(n.startswith(f"spofless moves its 1 replica(s) of {zone}") for n in site["notes"]), site["notes"]


def test_whatif_losing_another_zone_leaves_the_site_up(shop: tuple[str, str]) -> None:
    ns, zone = shop
    other = next(z for z in zones() if z != zone)
    done = kubectl_spofless("whatif", "--lose", other, "-n", ns)
    assert done.returncode == 0, done.stdout + done.stderr
    rows = {line.split()[0]: line for line in done.stdout.splitlines() if line.startswith(f"{ns}/")}
    assert rows[f"{ns}/ResilientSite/shop"].endswith("stays up")
    assert "on one pillar" in rows[f"{ns}/Deployment/db"], "one pod before, one pod after"
    assert kubectl_spofless("whatif", "--lose", other, "-n", ns, "--fail-on", "spof").returncode == 1
    unknown = kubectl_spofless("whatif", "--lose", "no-such-zone", "-n", ns)
    assert unknown.returncode == 2 and "zone no-such-zone has no Ready node" in unknown.stderr


def test_explain_names_the_dependency_and_its_fix(shop: tuple[str, str]) -> None:
    ns, _ = shop
    done = kubectl_spofless("explain", "shop", "-n", ns)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith(f"{ns}/shop: AtRisk: ")
    assert f"1. SPOF Dependency {ns}/db" in done.stdout
    assert "Make the dependency redundant" in done.stdout
    explained = json.loads(kubectl_spofless("explain", "shop", "-n", ns, "-o", "json").stdout)
    assert explained["points"][0]["title"] == f"Dependency {ns}/db"
    missing = kubectl_spofless("explain", "nothing-here", "-n", ns)
    assert missing.returncode == 3 and f"no ResilientSite nothing-here in namespace {ns}" in missing.stderr


def test_audit_through_kubectl_is_the_audit(shop: tuple[str, str]) -> None:
    ns, _ = shop
    done = kubectl_spofless("audit", "-n", ns, "-o", "json")
    assert done.returncode == 1, "db is a single replica"
    report = json.loads(done.stdout)
    assert {(f["scope"], f["name"]) for f in report["findings"] if f["kind"] == "Deployment"} == {("Replica", "db")}
    assert get("resilientsite", "shop", ns)["status"]["phase"] == "AtRisk", "reading changed nothing"
