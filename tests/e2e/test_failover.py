"""Losing a zone or a node: detection, failover, failback, and the operator or the API server dying
in the middle. Zones and nodes die through the suite's fault seam (faults.py): KWOK's chaos stage on
the local cluster, paused node containers on kind."""

from __future__ import annotations

import time
from typing import Any

import pytest

from .cluster import apply, get, kubectl, status, stays, wait_for
from .conftest import KIND, Operator, zone_nodes, zones
from .faults import (
    CAN_STOP_APISERVER,
    NEEDS_APISERVER_CONTROL,
    NOTICE_S,
    apiserver_down,
    lose_node,
    lose_zone,
    operator_zones,
    restore_zone,
    start_apiserver,
    stop_apiserver,
)
from .sites import deployments, findings, manifest, ready_pods, replicas_by_zone, wait_phase

FAST_FAILBACK = {"enabled": True, "failbackAfterSeconds": 5}
# A lost zone is reported within this of its loss: at once on KWOK, after the node grace on kind.
REPORTED_S = 60 + NOTICE_S


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
    started = lose_zone(b)
    wait_for(f"{b} reported lost", lambda: zone_status("shop", ns, b)["healthy"] is False, REPORTED_S)
    print(f"zone outage -> status: {time.monotonic() - started:.1f} s")
    wait_for("replicas moved to the healthy zones", lambda: replicas_by_zone(ns, "shop") == {a: 3, b: 2, c: 3})
    left = {a: 3, b: 6, c: 3}
    st = wait_phase("shop", ns, "Degraded", readyReplicas=6, timeout=120, zoneLoss=lambda rows: left == {
        z["zone"]: z["readyReplicasLeft"] for z in rows})  # fmt: skip
    print(f"zone outage -> capacity restored: {time.monotonic() - started:.1f} s")
    assert st["spof"] is False
    failover = next(x for x in st["conditions"] if x["type"] == "FailoverActive")
    assert failover["status"] == "True" and b in failover["message"]
    # Events are posted after the status patch: wait for them rather than race them.
    wait_for("ZoneLost and Failover announced", lambda: {"ZoneLost", "Failover"} <= site_events(ns))
    assert deployments(ns, "shop")[b]["metadata"]["uid"], "the lost zone's Deployment is kept"
    assert get("poddisruptionbudget", "shop", ns) is not None

    back = time.monotonic()
    restore_zone(b)
    wait_for("even spread again", lambda: replicas_by_zone(ns, "shop") == {a: 2, b: 2, c: 2}, timeout=120)
    st = wait_phase("shop", ns, "Redundant", readyReplicas=6, timeout=120)
    print(f"zone recovery -> even spread: {time.monotonic() - back:.1f} s (failback window 5 s)")
    assert next(x for x in st["conditions"] if x["type"] == "FailoverActive")["status"] == "False"
    wait_for("Failback announced", lambda: "Failback" in site_events(ns))


def site_events(ns: str, site: str = "shop") -> set[str]:
    return {e["reason"] for e in get("events", namespace=ns) if e["involvedObject"]["name"] == site}


def test_two_zones_lost_leave_one_zone_carrying_all_at_risk(ns: str, healthy_nodes: None) -> None:
    # On kind the operator's two replicas run on workers: the zone kept must hold one, or no
    # replica is left to act (the scenario would be "every operator replica lost", another test's).
    kept = sorted(z for z in operator_zones().values() if z)[:1] if KIND else []
    a = kept[0] if kept else zones()[0]
    b, c = [z for z in zones() if z != a][:2]
    spread_site(ns)
    lose_zone(b, c)
    wait_for(f"{a} carrying everything", lambda: replicas_by_zone(ns, "shop")[a] == 6, REPORTED_S)
    wait_phase("shop", ns, "AtRisk", readyReplicas=6, readyZones=1, timeout=120)
    assert ("Zone", a) in findings("shop", ns)


@pytest.mark.skipif(KIND, reason="on kind the operator's replicas run on the workers: losing every zone stops them too")
def test_every_zone_lost_scales_nothing_down(ns: str, healthy_nodes: None) -> None:
    spread_site(ns)
    before = replicas_by_zone(ns, "shop")
    lose_zone(*zones())
    # The nodes turn NotReady over a second or two: the last replica can stop counting while a zone
    # still has a Ready node (with no replica on it), so both are waited for together.
    st = wait_for(
        "no ready replica and every zone lost reported",
        lambda: (
            (s := status("shop", ns)).get("readyReplicas") == 0
            and bool(s.get("zones"))
            and all(not z["healthy"] for z in s["zones"])
            and s
        ),
    )
    assert st["phase"] == "AtRisk" and "no ready replica" in st["message"]
    after = replicas_by_zone(ns, "shop")
    assert all(after[z] >= before[z] > 0 for z in before), after


def test_a_lost_node_is_reported_and_its_pods_move_within_the_zone(ns: str, healthy_nodes: None) -> None:
    a = zones()[0]
    if len(zone_nodes(a)) < 2:
        pytest.skip(f"needs two nodes in a zone for its pods to move to; {a} has one (the kind cluster)")
    spread_site(ns)
    node = next(
        p["spec"]["nodeName"] for p in ready_pods(ns, "shop") if p["metadata"]["labels"]["spofless.dev/zone"] == a
    )
    lose_node(node)
    wait_for(
        f"{a} reported with one node fewer",
        lambda: zone_status("shop", ns, a)["readyNodes"] == len(zone_nodes(a)) - 1,
        REPORTED_S,
    )
    assert zone_status("shop", ns, a)["healthy"] is True
    wait_phase("shop", ns, "Redundant", readyReplicas=6, timeout=120)
    assert all(p["spec"]["nodeName"] != node for p in ready_pods(ns, "shop"))


def test_all_pods_on_one_node_is_a_node_spof(ns: str, healthy_nodes: None) -> None:
    a = zones()[0]
    keep, *others = sorted(zone_nodes(a))
    apply(manifest("solo", ns, replicas=2, minZones=1, zones=[a]))
    wait_phase("solo", ns, "AtRisk", readyReplicas=2)  # one zone only: a Topology SPOF already
    if others:  # one node per zone (kind): every pod is on it already
        kubectl("cordon", *others)
    for pod in get("pods", namespace=ns, selector="spofless.dev/site=solo"):
        if pod["spec"]["nodeName"] != keep:
            kubectl("delete", "pod", pod["metadata"]["name"], "-n", ns, "--wait=false")
    wait_for(f"a Node SPOF on {keep}", lambda: ("Node", keep) in findings("solo", ns), timeout=90)


def test_operator_killed_during_failover_converges(ns: str, healthy_nodes: None, own_operator: Operator) -> None:
    a, b, c = zones()[:3]
    spread_site(ns)
    lose_zone(b)
    wait_for(f"{b} reported lost", lambda: zone_status("shop", ns, b)["healthy"] is False, REPORTED_S)
    own_operator.kill()  # SIGKILL, mid-failover
    own_operator.start("--standalone")
    own_operator.wait_alive()
    wait_for("the failover completed by the new process", lambda: replicas_by_zone(ns, "shop") == {a: 3, b: 2, c: 3})
    wait_phase("shop", ns, "Degraded", readyReplicas=6, timeout=120)
    restore_zone(b)
    wait_for(f"{b} back", lambda: zone_status("shop", ns, b)["healthy"] is True)
    own_operator.kill()  # and again, mid-failback
    own_operator.start("--standalone")
    own_operator.wait_alive()
    wait_for("even spread again", lambda: replicas_by_zone(ns, "shop") == {a: 2, b: 2, c: 2}, timeout=120)
    wait_phase("shop", ns, "Redundant", readyReplicas=6, timeout=120)


@pytest.mark.skipif(not CAN_STOP_APISERVER, reason=NEEDS_APISERVER_CONTROL)
def test_apiserver_restart_in_steady_state_deletes_nothing(ns: str, healthy_nodes: None) -> None:
    spread_site(ns)
    uids = {z: d["metadata"]["uid"] for z, d in deployments(ns, "shop").items()}
    stop_apiserver()
    start_apiserver()
    wait_phase("shop", ns, "Redundant", readyReplicas=6, timeout=120)
    assert {z: d["metadata"]["uid"] for z, d in deployments(ns, "shop").items()} == uids
    # The operator's watches are back: a hand edit after the restart is still repaired.
    zone = sorted(uids)[0]
    kubectl("scale", "deployment", deployments(ns, "shop")[zone]["metadata"]["name"], "-n", ns, "--replicas=7")
    wait_for("the hand edit repaired after the restart", lambda: replicas_by_zone(ns, "shop")[zone] == 2, timeout=120)


@pytest.mark.skipif(not CAN_STOP_APISERVER, reason=NEEDS_APISERVER_CONTROL)
def test_apiserver_down_30s_during_failover_converges(ns: str, healthy_nodes: None, operator: Operator | None) -> None:
    a, b, c = zones()[:3]
    spread_site(ns)
    uids = {z: d["metadata"]["uid"] for z, d in deployments(ns, "shop").items()}
    lose_zone(b)
    wait_for(f"{b} reported lost", lambda: zone_status("shop", ns, b)["healthy"] is False, REPORTED_S)
    stop_apiserver()
    try:
        # The outage itself: 30 s without an API server, checked at every look. The operator must
        # stay live meanwhile (a liveness restart loop would not bring the API server back).
        stays(
            "kube-apiserver down and the operator live",
            lambda: apiserver_down() and (operator is None or operator.answers()),
            seconds=30,
        )
    finally:
        start_apiserver(controllers_too=True)  # the operator is not restarted
    wait_for(
        "the failover done after the outage", lambda: replicas_by_zone(ns, "shop") == {a: 3, b: 2, c: 3}, timeout=180
    )
    wait_phase("shop", ns, "Degraded", readyReplicas=6, timeout=180)
    assert {z: d["metadata"]["uid"] for z, d in deployments(ns, "shop").items()} == uids, "a child was recreated"
