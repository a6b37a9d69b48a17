"""Losing a zone or a node: detection, failover, failback, and the operator or the API server dying
in the middle. Zones go down through KWOK's node-not-ready chaos stage, as real NotReady nodes."""

from __future__ import annotations

import os
import subprocess
import time
from typing import Any

import pytest

from .cluster import apply, get, kubectl, status, stays, wait_for
from .conftest import CHAOS_LABEL, ROOT, Operator, needs_kwok, zone_nodes, zones
from .sites import deployments, findings, manifest, ready_pods, replicas_by_zone, wait_phase

FAST_FAILBACK = {"enabled": True, "failbackAfterSeconds": 5}
pytestmark = needs_kwok("zones taken down by its node-not-ready stage")


def take_down(*zone_names: str) -> float:
    for zone in zone_names:
        kubectl("label", "nodes", "-l", f"topology.kubernetes.io/zone={zone}", f"{CHAOS_LABEL}=true", "--overwrite")
    return time.monotonic()


def bring_back(*zone_names: str) -> None:
    for zone in zone_names:
        kubectl("label", "nodes", "-l", f"topology.kubernetes.io/zone={zone}", f"{CHAOS_LABEL}-")


def zone_status(name: str, ns: str, zone: str) -> dict[str, Any]:
    return next(z for z in status(name, ns).get("zones", []) if z["name"] == zone)


def spread_site(ns: str, replicas: int = 6) -> dict[str, int]:
    apply(manifest("shop", ns, replicas=replicas, failover=FAST_FAILBACK))
    # Generous: the previous module's namespaces are still being deleted (their garbage collection
    # loads the controllers), and once this wait ran out at 90 s on a fresh clone.
    wait_phase("shop", ns, "Redundant", readyReplicas=replicas, timeout=180)
    return replicas_by_zone(ns, "shop")


def test_one_zone_lost_fails_over_and_back(ns: str, healthy_nodes: None) -> None:
    a, b, c = zones()[:3]
    assert spread_site(ns) == {a: 2, b: 2, c: 2}
    started = take_down(b)
    wait_for(f"{b} reported lost", lambda: zone_status("shop", ns, b)["healthy"] is False)
    print(f"zone outage -> status: {time.monotonic() - started:.1f} s")
    wait_for("replicas moved to the healthy zones", lambda: replicas_by_zone(ns, "shop") == {a: 3, b: 2, c: 3})
    st = wait_phase("shop", ns, "Degraded", readyReplicas=6, timeout=120)
    print(f"zone outage -> capacity restored: {time.monotonic() - started:.1f} s")
    assert st["spof"] is False
    assert {z["zone"]: z["readyReplicasLeft"] for z in st["zoneLoss"]} == {a: 3, b: 6, c: 3}
    failover = next(x for x in st["conditions"] if x["type"] == "FailoverActive")
    assert failover["status"] == "True" and b in failover["message"]
    reasons = {e["reason"] for e in get("events", namespace=ns) if e["involvedObject"]["name"] == "shop"}
    assert {"ZoneLost", "Failover"} <= reasons
    assert deployments(ns, "shop")[b]["metadata"]["uid"], "the lost zone's Deployment is kept"
    assert get("poddisruptionbudget", "shop", ns) is not None

    back = time.monotonic()
    bring_back(b)
    wait_for("even spread again", lambda: replicas_by_zone(ns, "shop") == {a: 2, b: 2, c: 2}, timeout=120)
    st = wait_phase("shop", ns, "Redundant", readyReplicas=6, timeout=120)
    print(f"zone recovery -> even spread: {time.monotonic() - back:.1f} s (failback window 5 s)")
    assert next(x for x in st["conditions"] if x["type"] == "FailoverActive")["status"] == "False"
    assert "Failback" in {e["reason"] for e in get("events", namespace=ns) if e["involvedObject"]["name"] == "shop"}


def test_two_zones_lost_leave_one_zone_carrying_all_at_risk(ns: str, healthy_nodes: None) -> None:
    a, b, c = zones()[:3]
    spread_site(ns)
    take_down(b, c)
    wait_for(f"{a} carrying everything", lambda: replicas_by_zone(ns, "shop")[a] == 6)
    st = wait_phase("shop", ns, "AtRisk", readyReplicas=6, timeout=120)
    assert ("Zone", a) in findings("shop", ns)
    assert st["readyZones"] == 1


def test_every_zone_lost_scales_nothing_down(ns: str, healthy_nodes: None) -> None:
    spread_site(ns)
    before = replicas_by_zone(ns, "shop")
    take_down(*zones())
    st = wait_for("no ready replica reported", lambda: (s := status("shop", ns)).get("readyReplicas") == 0 and s)
    assert st["phase"] == "AtRisk" and "no ready replica" in st["message"]
    assert all(not z["healthy"] for z in st["zones"])
    after = replicas_by_zone(ns, "shop")
    assert all(after[z] >= before[z] > 0 for z in before), after


def test_a_lost_node_is_reported_and_its_pods_move_within_the_zone(ns: str, healthy_nodes: None) -> None:
    a = zones()[0]
    spread_site(ns)
    node = next(
        p["spec"]["nodeName"] for p in ready_pods(ns, "shop") if p["metadata"]["labels"]["spofless.dev/zone"] == a
    )
    kubectl("label", "node", node, f"{CHAOS_LABEL}=true")
    wait_for(
        f"{a} reported with one node fewer", lambda: zone_status("shop", ns, a)["readyNodes"] == len(zone_nodes(a)) - 1
    )
    assert zone_status("shop", ns, a)["healthy"] is True
    wait_phase("shop", ns, "Redundant", readyReplicas=6, timeout=120)
    assert all(p["spec"]["nodeName"] != node for p in ready_pods(ns, "shop"))


def test_all_pods_on_one_node_is_a_node_spof(ns: str, healthy_nodes: None) -> None:
    a = zones()[0]
    keep, *others = sorted(zone_nodes(a))
    apply(manifest("solo", ns, replicas=2, minZones=1, zones=[a]))
    wait_phase("solo", ns, "AtRisk", readyReplicas=2)  # one zone only: a Topology SPOF already
    kubectl("cordon", *others)
    for pod in get("pods", namespace=ns, selector="spofless.dev/site=solo"):
        if pod["spec"]["nodeName"] != keep:
            kubectl("delete", "pod", pod["metadata"]["name"], "-n", ns, "--wait=false")
    wait_for(f"a Node SPOF on {keep}", lambda: ("Node", keep) in findings("solo", ns), timeout=90)


def test_operator_killed_during_failover_converges(ns: str, healthy_nodes: None, own_operator: Operator) -> None:
    a, b, c = zones()[:3]
    spread_site(ns)
    take_down(b)
    wait_for(f"{b} reported lost", lambda: zone_status("shop", ns, b)["healthy"] is False)
    own_operator.kill()  # SIGKILL, mid-failover
    own_operator.start("--standalone")
    own_operator.wait_alive()
    wait_for("the failover completed by the new process", lambda: replicas_by_zone(ns, "shop") == {a: 3, b: 2, c: 3})
    wait_phase("shop", ns, "Degraded", readyReplicas=6, timeout=120)
    bring_back(b)
    wait_for(f"{b} back", lambda: zone_status("shop", ns, b)["healthy"] is True)
    own_operator.kill()  # and again, mid-failback
    own_operator.start("--standalone")
    own_operator.wait_alive()
    wait_for("even spread again", lambda: replicas_by_zone(ns, "shop") == {a: 2, b: 2, c: 2}, timeout=120)
    wait_phase("shop", ns, "Redundant", readyReplicas=6, timeout=120)


CLUSTER_SH = ROOT / "hack" / "cluster.sh"
LOCAL = os.environ.get("SPOFLESS_E2E_LOCAL_CLUSTER") == "1"
NEEDS_LOCAL = "needs control of kube-apiserver: runs on hack/cluster.sh's cluster (SPOFLESS_E2E_LOCAL_CLUSTER=1)"


def restart_apiserver() -> None:
    subprocess.run([str(CLUSTER_SH), "stop", "kube-apiserver"], check=True, capture_output=True)
    subprocess.run([str(CLUSTER_SH), "start"], check=True, capture_output=True)


@pytest.mark.skipif(not LOCAL, reason=NEEDS_LOCAL)
def test_apiserver_restart_in_steady_state_deletes_nothing(ns: str, healthy_nodes: None) -> None:
    spread_site(ns)
    uids = {z: d["metadata"]["uid"] for z, d in deployments(ns, "shop").items()}
    restart_apiserver()
    wait_phase("shop", ns, "Redundant", readyReplicas=6, timeout=120)
    assert {z: d["metadata"]["uid"] for z, d in deployments(ns, "shop").items()} == uids
    # The operator's watches are back: a hand edit after the restart is still repaired.
    zone = sorted(uids)[0]
    kubectl("scale", "deployment", deployments(ns, "shop")[zone]["metadata"]["name"], "-n", ns, "--replicas=7")
    wait_for("the hand edit repaired after the restart", lambda: replicas_by_zone(ns, "shop")[zone] == 2, timeout=120)


@pytest.mark.skipif(not LOCAL, reason=NEEDS_LOCAL)
def test_apiserver_down_30s_during_failover_converges(ns: str, healthy_nodes: None, operator: Operator | None) -> None:
    a, b, c = zones()[:3]
    spread_site(ns)
    uids = {z: d["metadata"]["uid"] for z, d in deployments(ns, "shop").items()}
    take_down(b)
    wait_for(f"{b} reported lost", lambda: zone_status("shop", ns, b)["healthy"] is False)
    subprocess.run([str(CLUSTER_SH), "stop", "kube-apiserver"], check=True, capture_output=True)
    try:
        # The outage itself: 30 s without an API server, checked at every look. The operator must
        # stay live meanwhile (a liveness restart loop would not bring the API server back).
        def api_down_operator_live() -> bool:
            down = (
                subprocess.run(["kubectl", "get", "--raw", "/readyz"], capture_output=True, timeout=10).returncode != 0
            )
            return down and (operator is None or operator.answers())

        stays("kube-apiserver down and the operator live", api_down_operator_live, seconds=30)
    finally:
        # The controllers' client-go backoff grows with each outage and would dominate the timing
        # here; they come back fresh with kube-apiserver. The operator is not restarted.
        stop = [str(CLUSTER_SH), "stop", "kube-controller-manager", "kube-scheduler"]
        subprocess.run(stop, check=True, capture_output=True)
        subprocess.run([str(CLUSTER_SH), "start"], check=True, capture_output=True)
    wait_for(
        "the failover done after the outage", lambda: replicas_by_zone(ns, "shop") == {a: 3, b: 2, c: 3}, timeout=180
    )
    wait_phase("shop", ns, "Degraded", readyReplicas=6, timeout=180)
    assert {z: d["metadata"]["uid"] for z, d in deployments(ns, "shop").items()} == uids, "a child was recreated"
