"""`spofless audit` on a real API server: hand-made workloads, each with the single point of failure
it was made to have (or none), read as an admin, as a read-only ServiceAccount and as one that lacks
a permission. The audit writes nothing, so it needs no operator."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from .cluster import apply, get, kubectl, service_account_kubeconfig, wait_for
from .conftest import LOGS, ROOT, zone_nodes, zones
from .sites import SITE_IMAGE

ZONE_KEY = "topology.kubernetes.io/zone"
HOST_KEY = "kubernetes.io/hostname"
READ = ["list"]
RESOURCES = {
    "": ["nodes", "pods", "services"],
    "apps": ["deployments", "statefulsets", "replicasets"],
    "policy": ["poddisruptionbudgets"],
    "discovery.k8s.io": ["endpointslices"],
}


def expected() -> set[tuple[str, str, str, str]]:
    """(severity, scope, kind, name) of every finding the namespace must produce, and nothing else.
    The one-zone Deployment's pods share their zone; where that zone has a single node (kind has one
    worker per zone) they share the node too, and the audit names the narrowest domain."""
    one_zone = "Node" if len(zone_nodes(zones()[0])) == 1 else "Zone"
    return {
        ("SPOF", "Replica", "Deployment", "single"),
        ("SPOF", one_zone, "Deployment", "onezone"),
        ("SPOF", "Node", "Deployment", "onenode"),
        ("SPOF", "Service", "Service", "onezone"),
        ("Warning", "DisruptionBudget", "PodDisruptionBudget", "zero"),
        ("Warning", "DisruptionBudget", "PodDisruptionBudget", "orphan"),
    }


def spread(app: str, key: str) -> dict[str, Any]:
    return {"maxSkew": 1, "topologyKey": key, "whenUnsatisfiable": "DoNotSchedule",
            "labelSelector": {"matchLabels": {"app": app}}}  # fmt: skip


def pod_template(app: str, zone_spread: bool = True, **spec: Any) -> dict[str, Any]:
    constraints = [spread(app, HOST_KEY), *([spread(app, ZONE_KEY)] if zone_spread else [])]
    return {
        "metadata": {"labels": {"app": app}},
        "spec": {"containers": [{"name": "c", "image": SITE_IMAGE}], "topologySpreadConstraints": constraints,
                 **spec},
    }  # fmt: skip


def workload(kind: str, name: str, ns: str, replicas: int, template: dict[str, Any], **spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": "apps/v1",
        "kind": kind,
        "metadata": {"name": name, "namespace": ns, "labels": {"app": name}},
        "spec": {"replicas": replicas, "selector": {"matchLabels": {"app": name}}, "template": template, **spec},
    }


def service(name: str, ns: str, **spec: Any) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Service", "metadata": {"name": name, "namespace": ns, "labels": {"app": name}},
            "spec": {"selector": {"app": name}, "ports": [{"port": 80}], **spec}}  # fmt: skip


def budget(name: str, ns: str, app: str, max_unavailable: int) -> dict[str, Any]:
    return {"apiVersion": "policy/v1", "kind": "PodDisruptionBudget", "metadata": {"name": name, "namespace": ns},
            "spec": {"maxUnavailable": max_unavailable, "selector": {"matchLabels": {"app": app}}}}  # fmt: skip


def all_ready(ns: str, pods: int) -> bool:
    ready = [
        p for p in get("pods", namespace=ns)
        if any(c["type"] == "Ready" and c["status"] == "True" for c in p.get("status", {}).get("conditions", []))
    ]  # fmt: skip
    endpoints = sum(
        1
        for s in get("endpointslices", namespace=ns)
        for e in s.get("endpoints") or []
        if (e.get("conditions") or {}).get("ready")
    )
    return len(ready) == pods and endpoints == 3 + 3 + 3  # onezone, wellspread and db's Services


@pytest.fixture(scope="module")
def workloads() -> Iterator[str]:
    """A namespace of hand-made workloads (made once for the module)."""
    ns = f"e2e-audit-{uuid.uuid4().hex[:5]}"
    a, b = zones()[:2]
    host_b = get("node", zone_nodes(b)[0])["metadata"]["labels"][HOST_KEY]
    kubectl("create", "namespace", ns)
    try:
        for obj in [
            workload("Deployment", "single", ns, 1, pod_template("single")),
            workload("Deployment", "onezone", ns, 3, pod_template("onezone", False, nodeSelector={ZONE_KEY: a})),
            workload("Deployment", "onenode", ns, 2, pod_template("onenode", False, nodeSelector={HOST_KEY: host_b},
                                                                  topologySpreadConstraints=[])),
            workload("Deployment", "zero", ns, 3, pod_template("zero")),
            workload("Deployment", "wellspread", ns, 3, pod_template("wellspread")),
            workload("ReplicaSet", "bare", ns, 2, pod_template("bare")),
            workload("StatefulSet", "db", ns, 3, pod_template("db"), serviceName="db", podManagementPolicy="Parallel"),
            service("onezone", ns),
            service("wellspread", ns),
            service("db", ns, clusterIP="None"),
            budget("zero", ns, "zero", 0),
            budget("wellspread", ns, "wellspread", 1),
            budget("orphan", ns, "nothing-has-this-label", 1),
        ]:  # fmt: skip
            apply(obj)
        wait_for(
            "every pod Ready and in its Service's endpoints", lambda: all_ready(ns, 1 + 3 + 2 + 3 + 3 + 2 + 3), 180
        )
        yield ns
    finally:
        kubectl("delete", "namespace", ns, "--wait=false", check=False)


def audit(*args: str, kubeconfig: Path | None = None) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, **({"KUBECONFIG": str(kubeconfig)} if kubeconfig else {})}
    cmd = [sys.executable, "-m", "spofless", "audit", *args]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=120, cwd=ROOT, env=env)
    assert "Traceback" not in done.stderr, done.stderr
    return done


def findings(report: dict[str, Any], ns: str) -> set[tuple[str, str, str, str]]:
    return {(f["severity"], f["scope"], f["kind"], f["name"]) for f in report["findings"] if f["namespace"] == ns}


def test_every_expected_finding_appears_and_nothing_else(workloads: str) -> None:
    ns = workloads
    done = audit("-n", ns, "-o", "json")
    report = json.loads(done.stdout)
    assert findings(report, ns) == expected()
    assert done.returncode == 1, "SPOFs are present and --fail-on defaults to spof"
    by_name = {(w["kind"], w["name"]): w for w in report["workloads"]}
    assert set(by_name) == {("Deployment", n) for n in ("single", "onezone", "onenode", "zero", "wellspread")} | {
        ("ReplicaSet", "bare"),
        ("StatefulSet", "db"),
    }, "a Deployment's own ReplicaSets are not listed"
    a = zones()[0]
    assert by_name[("Deployment", "onezone")]["zones"] == {a: 3}
    assert by_name[("Deployment", "onezone")]["zoneLoss"][a] == 0
    assert len(by_name[("Deployment", "wellspread")]["zones"]) == 3
    assert by_name[("Deployment", "wellspread")]["budgets"] == ["wellspread"]
    assert min(by_name[("StatefulSet", "db")]["zoneLoss"].values()) == 2
    lost_a = next(z for z in report["zoneLoss"] if z["zone"] == a)
    assert f"{ns}/Deployment/onezone" in lost_a["down"]
    assert report["missingPermissions"] == []


def test_all_namespaces_json_is_valid_and_includes_the_namespace(workloads: str) -> None:
    done = audit("-A", "-o", "json", "--fail-on", "never")
    assert done.returncode == 0
    report = json.loads(done.stdout)
    assert report["scope"] == "all namespaces"
    assert findings(report, workloads) == expected()


def test_exit_codes_follow_fail_on(workloads: str) -> None:
    ns = workloads
    assert audit("-n", ns, "--fail-on", "never").returncode == 0
    assert audit("-n", ns, "--fail-on", "warning").returncode == 1
    assert audit("-n", ns, "-l", "app=wellspread", "--fail-on", "warning").returncode == 0
    assert audit("-n", ns, "-l", "app=zero", "--fail-on", "spof").returncode == 0
    assert audit("-n", ns, "-l", "app=zero", "--fail-on", "warning").returncode == 1
    assert audit("-n", ns, "-l", "app=single").returncode == 1
    assert audit("-n", ns, "-l", "bad selector!").returncode == 3, "a selector the API refuses is an error"


def test_the_table_reads_at_a_glance(workloads: str) -> None:
    table = audit("-n", workloads).stdout
    assert table.splitlines()[0].startswith(f"spofless audit: namespace {workloads}; 3 zone(s)")
    for row in ("Deployment/single", "Deployment/onezone", "ReplicaSet/bare", "StatefulSet/db", "IF A ZONE IS LOST"):
        assert row in table, table
    assert "MISSING PERMISSIONS" not in table


@pytest.fixture(scope="module")
def accounts(workloads: str) -> Iterator[dict[str, Path]]:
    """Two ServiceAccounts: `reader` may list everything the audit reads and nothing else (no get,
    no watch, no write); `no-budgets` the same without PodDisruptionBudgets."""
    ns, tag = workloads, uuid.uuid4().hex[:5]
    out: dict[str, Path] = {}
    LOGS.mkdir(parents=True, exist_ok=True)
    try:
        for account, skip in (("reader", ""), ("no-budgets", "poddisruptionbudgets")):
            rules = [
                {"apiGroups": [group], "resources": [r for r in resources if r != skip], "verbs": READ}
                for group, resources in RESOURCES.items()
                if [r for r in resources if r != skip]
            ]
            role = f"e2e-audit-{account}-{tag}"
            apply({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole", "metadata": {"name": role},
                   "rules": rules})  # fmt: skip
            kubectl("create", "serviceaccount", account, "-n", ns)
            kubectl("create", "clusterrolebinding", role, f"--clusterrole={role}", f"--serviceaccount={ns}:{account}")
            out[account] = service_account_kubeconfig(f"{ns}/{account}", LOGS / f"audit-{account}.json")
        yield out
    finally:
        for account in ("reader", "no-budgets"):
            kubectl("delete", "clusterrole,clusterrolebinding", f"e2e-audit-{account}-{tag}", check=False)


def test_a_read_only_service_account_gets_the_same_report(workloads: str, accounts: dict[str, Path]) -> None:
    done = audit("-A", "-o", "json", kubeconfig=accounts["reader"])
    report = json.loads(done.stdout)
    assert report["missingPermissions"] == []
    assert findings(report, workloads) == expected()
    assert done.returncode == 1


def test_a_missing_permission_is_reported_not_fatal(workloads: str, accounts: dict[str, Path]) -> None:
    done = audit("-A", "-o", "json", kubeconfig=accounts["no-budgets"])
    report = json.loads(done.stdout)
    assert [(m["verb"], m["resource"], m["where"]) for m in report["missingPermissions"]] == [
        ("list", "poddisruptionbudgets.policy", "cluster-wide")
    ]
    budget_free = {f for f in expected() if f[1] != "DisruptionBudget"}
    assert findings(report, workloads) == budget_free, "workloads are still audited"
    assert {(f["scope"], f["name"]) for f in report["findings"] if f["scope"] == "Permission"} == {
        ("Permission", "list poddisruptionbudgets.policy")
    }
    assert all(w["budgets"] is None for w in report["workloads"])
    assert done.returncode == 1
    assert audit("-A", "--fail-on", "never", kubeconfig=accounts["no-budgets"]).returncode == 0
    table = audit("-A", kubeconfig=accounts["no-budgets"]).stdout
    assert "MISSING PERMISSIONS" in table and "list poddisruptionbudgets.policy (cluster-wide)" in table
    # Namespaced, the same account may list pods there and nothing about budgets is made up either.
    assert json.loads(audit("-n", workloads, "-o", "json", kubeconfig=accounts["no-budgets"]).stdout)["budgets"] == []
