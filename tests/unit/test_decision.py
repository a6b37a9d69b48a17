from dataclasses import replace as swap
from datetime import timedelta
from typing import Any

import pytest

from spofless.core.observed.records import Allocatable, Child, Load, Observed, Pod
from spofless.core.site.decision import Decision, decide

from .builders import T0, site, world

ZONES = {"zone-a": 3, "zone-b": 3, "zone-c": 3}
EVEN = {"zone-a": 2, "zone-b": 2, "zone-c": 2}


def deployments(result: Decision) -> dict[str, int]:
    return {m["metadata"]["name"]: m["spec"]["replicas"] for m in result.apply if m["kind"] == "Deployment"}


def condition(status: dict[str, Any], kind: str) -> dict[str, Any]:
    return next(c for c in status["conditions"] if c["type"] == kind)


def test_a_new_site_gets_one_deployment_per_zone_and_is_pending() -> None:
    result = decide(site({"replicas": 6}), world(ZONES, {}, replicas={}), T0)
    assert deployments(result) == {"shop-zone-a": 2, "shop-zone-b": 2, "shop-zone-c": 2}
    assert result.status["phase"] == "Pending"
    assert not [e for e in result.events if e.reason == "SinglePointOfFailure"]  # no alarm while rolling out


def test_a_spread_site_is_redundant() -> None:
    prev = decide(site({"replicas": 6}), world(ZONES, {}, replicas={}), T0).status
    result = decide(site({"replicas": 6}, prev), world(ZONES, EVEN), T0)
    status = result.status
    assert (status["phase"], status["spof"], status["readyReplicas"], status["readyZones"]) == (
        "Redundant",
        False,
        6,
        3,
    )
    assert condition(status, "Redundant")["status"] == "True"
    assert [e.reason for e in result.events] == ["Redundant"]


def test_a_decision_with_nothing_new_keeps_the_status_byte_for_byte() -> None:
    first = decide(site({"replicas": 6}), world(ZONES, EVEN), T0)
    again = decide(site({"replicas": 6}, first.status), world(ZONES, EVEN), T0 + timedelta(seconds=30))
    assert again.status == first.status
    assert again.events == []


def lose_zone_b(prev: dict[str, Any], at: Any) -> Decision:
    ready = {"zone-a": 2, "zone-c": 2}
    return decide(site({"replicas": 6}, prev), world(ZONES, ready, replicas=EVEN, not_ready=("zone-b",)), at)


def test_losing_a_zone_moves_its_replicas_and_reports_degraded() -> None:
    steady = decide(site({"replicas": 6}), world(ZONES, EVEN), T0).status
    result = lose_zone_b(steady, T0 + timedelta(seconds=5))
    assert deployments(result) == {"shop-zone-a": 3, "shop-zone-b": 2, "shop-zone-c": 3}
    status = result.status
    assert status["phase"] == "Degraded"
    assert next(z for z in status["zones"] if z["name"] == "zone-b")["healthy"] is False
    assert condition(status, "FailoverActive")["status"] == "True"
    reasons = {e.reason for e in result.events}
    assert {"ZoneLost", "Failover"} <= reasons


def test_two_lost_zones_leave_one_zone_carrying_everything_at_risk() -> None:
    steady = decide(site({"replicas": 6}), world(ZONES, EVEN), T0).status
    observed = world(ZONES, {"zone-a": 2}, replicas=EVEN, not_ready=("zone-b", "zone-c"))
    result = decide(site({"replicas": 6}, steady), observed, T0 + timedelta(seconds=5))
    assert deployments(result)["shop-zone-a"] == 6
    assert result.status["phase"] == "AtRisk"
    assert any(f["scope"] == "Zone" for f in result.status["singlePointsOfFailure"])


def test_every_zone_lost_scales_nothing_down_and_says_so() -> None:
    steady = decide(site({"replicas": 6}), world(ZONES, EVEN), T0).status
    observed = world(ZONES, {}, replicas=EVEN, not_ready=tuple(ZONES))
    result = decide(site({"replicas": 6}, steady), observed, T0 + timedelta(seconds=5))
    assert all(n >= 2 for n in deployments(result).values())
    assert result.status["readyReplicas"] == 0
    assert "no ready replica" in result.status["message"]


def test_failback_waits_for_the_window_then_returns_to_the_even_spread() -> None:
    spec = {"replicas": 6, "failover": {"failbackAfterSeconds": 60}}
    steady = decide(site(spec), world(ZONES, EVEN), T0).status
    lost = decide(
        site(spec, steady),
        world(ZONES, {"zone-a": 3, "zone-c": 3}, replicas=EVEN, not_ready=("zone-b",)),
        T0 + timedelta(seconds=10),
    ).status
    moved = {"zone-a": 3, "zone-b": 2, "zone-c": 3}
    # zone-b is back and its pods are ready again, but only for 30 s: nothing moves yet.
    back = world(ZONES, {"zone-a": 3, "zone-b": 2, "zone-c": 3}, replicas=moved)
    early = decide(site(spec, lost), back, T0 + timedelta(seconds=20))
    assert deployments(early) == {"shop-zone-a": 3, "shop-zone-b": 2, "shop-zone-c": 3}
    assert "ZoneRecovered" in {e.reason for e in early.events}
    middle = decide(site(spec, early.status), back, T0 + timedelta(seconds=50))
    assert deployments(middle) == {"shop-zone-a": 3, "shop-zone-b": 2, "shop-zone-c": 3}
    late = decide(site(spec, middle.status), back, T0 + timedelta(seconds=81))
    assert deployments(late) == {"shop-zone-a": 2, "shop-zone-b": 2, "shop-zone-c": 2}
    assert "Failback" in {e.reason for e in late.events}


def test_a_flapping_zone_restarts_the_failback_window() -> None:
    spec = {"replicas": 6, "failover": {"failbackAfterSeconds": 60}}
    moved = {"zone-a": 3, "zone-b": 2, "zone-c": 3}
    status = decide(site(spec), world(ZONES, EVEN), T0).status
    up = world(ZONES, {"zone-a": 3, "zone-b": 2, "zone-c": 3}, replicas=moved)
    down = world(ZONES, {"zone-a": 3, "zone-c": 3}, replicas=moved, not_ready=("zone-b",))
    for second, observed in [(10, down), (40, up), (70, down), (80, up), (130, up)]:
        result = decide(site(spec, status), observed, T0 + timedelta(seconds=second))
        assert deployments(result) == {"shop-zone-a": 3, "shop-zone-b": 2, "shop-zone-c": 3}, second
        status = result.status
    assert deployments(decide(site(spec, status), up, T0 + timedelta(seconds=141))) == {
        "shop-zone-a": 2, "shop-zone-b": 2, "shop-zone-c": 2,
    }  # fmt: skip


def test_a_vanished_zone_is_remembered_and_reported() -> None:
    steady = decide(site({"replicas": 6}), world(ZONES, EVEN), T0).status
    gone = world({"zone-a": 3, "zone-c": 3}, {"zone-a": 2, "zone-c": 2}, replicas=EVEN)
    result = decide(site({"replicas": 6}, steady), gone, T0 + timedelta(seconds=5))
    zone_b = next(z for z in result.status["zones"] if z["name"] == "zone-b")
    assert (zone_b["nodes"], zone_b["healthy"]) == (0, False)
    assert "zone-b" in result.status["knownZones"]


@pytest.mark.parametrize(
    ("spec", "reason", "words"),
    [
        ({"zones": ["zone-a", "zone-x"]}, "UnknownZone", "zone-x"),
        ({"topologyKey": "example.com/rack"}, "NoZones", "example.com/rack"),
        ({"replicas": -1}, "InvalidSpec", "spec.replicas"),
        ({"minZones": 0}, "InvalidSpec", "spec.minZones"),
        ({"unknownField": 1}, "InvalidSpec", "unknownField"),
        ({"service": {"ports": [{"port": 70000}]}}, "InvalidSpec", "port"),
    ],
)
def test_a_spec_the_schema_cannot_catch_is_invalid_and_changes_nothing(
    spec: dict[str, Any], reason: str, words: str
) -> None:
    steady = decide(site({"replicas": 6}), world(ZONES, EVEN), T0).status
    result = decide(site(spec, steady), world(ZONES, EVEN), T0 + timedelta(seconds=5))
    assert result.apply == [] and result.delete == []
    assert result.status["phase"] == "Invalid"
    reconciled = condition(result.status, "Reconciled")
    assert (reconciled["status"], reconciled["reason"]) == ("False", reason)
    assert words in reconciled["message"]
    assert [e.type for e in result.events] == ["Warning"]
    assert result.status["readyReplicas"] == steady["readyReplicas"]


def test_a_removed_zone_is_deleted_only_once_the_others_carry_the_spec() -> None:
    spec = {"replicas": 6, "zones": ["zone-a", "zone-b"]}
    before = world(ZONES, {"zone-a": 2, "zone-b": 2, "zone-c": 2}, replicas=EVEN)
    result = decide(site(spec), before, T0)
    assert deployments(result) == {"shop-zone-a": 3, "shop-zone-b": 3}
    assert result.delete == []  # only 4 ready in the wanted zones: zone-c's pods still serve
    after = world(ZONES, {"zone-a": 3, "zone-b": 3, "zone-c": 2}, replicas={"zone-a": 3, "zone-b": 3, "zone-c": 2})
    assert set(decide(site(spec), after, T0).delete) == {("Deployment", "shop-zone-c")}


def test_budgets_of_an_earlier_version_go_at_once_so_no_pod_has_two() -> None:
    old = Child("PodDisruptionBudget", "shop-zone-a", "zone-a", {})
    observed = world(ZONES, EVEN)
    observed = Observed(observed.nodes, observed.pods, observed.endpoints, (*observed.children, old))
    result = decide(site({"replicas": 6}), observed, T0)
    assert result.delete == [("PodDisruptionBudget", "shop-zone-a")]


# --- capacity: the what-if warns before a loss, CapacityShort says what stays Pending after ----


def _roomy(observed: Observed, slots: int, used: int) -> Observed:
    """The same world with nodes of `slots` pods, `used` of them taken by sites' pods on every node."""
    nodes = tuple(swap(n, allocatable=Allocatable(slots, 32000, 2**38)) for n in observed.nodes)
    usage = {n.name: Load(pods=used, site_pods=used) for n in nodes}
    return swap(observed, nodes=nodes, usage=usage)


def test_the_what_if_says_whether_the_other_zones_have_room() -> None:
    roomy = decide(site({"replicas": 6}), _roomy(world(ZONES, EVEN), 110, 2), T0).status
    assert all(z["absorbable"] is True and z["wouldStayPending"] == 0 for z in roomy["zoneLoss"])
    assert not [f for f in roomy["singlePointsOfFailure"] if f["scope"] == "Capacity"]

    full = decide(site({"replicas": 6}, roomy), _roomy(world(ZONES, EVEN), 2, 2), T0).status
    assert all(z["absorbable"] is False and z["wouldStayPending"] == 2 for z in full["zoneLoss"])
    warnings = [f for f in full["singlePointsOfFailure"] if f["scope"] == "Capacity"]
    assert {f["name"] for f in warnings} == set(ZONES) and all(f["severity"] == "Warning" for f in warnings)
    assert "losing zone zone-b would leave 2 replica(s) Pending" in next(
        f["message"] for f in warnings if f["name"] == "zone-b"
    )
    assert full["spof"] is False  # a warning, not a single point of failure


def _pending(zone: str, n: int) -> tuple[Pod, ...]:
    message = "0/9 nodes are available: 3 Too many pods, 6 node(s) didn't match Pod's node affinity/selector."
    return tuple(
        Pod(f"shop-{zone}-p{i}", zone, None, False, False, True, message, T0 + timedelta(seconds=9)) for i in range(n)
    )


def test_capacity_short_names_the_pending_replicas_and_why_and_announces_start_and_end() -> None:
    steady = decide(site({"replicas": 6}), world(ZONES, EVEN), T0).status
    lost = lose_zone_b(steady, T0 + timedelta(seconds=5))
    moved = {"zone-a": 3, "zone-b": 2, "zone-c": 3}
    observed = world(ZONES, {"zone-a": 2, "zone-c": 3}, replicas=moved, not_ready=("zone-b",))
    short = decide(
        site({"replicas": 6}, lost.status),
        swap_pods(observed, _pending("zone-a", 1) + _pending("zone-b", 2)),
        T0 + timedelta(seconds=20),
    )
    cond = condition(short.status, "CapacityShort")
    assert cond["status"] == "True" and cond["reason"] == "Unschedulable"
    assert cond["message"].startswith("1 replica Pending in zone-a: 0/9 nodes are available: 3 Too many pods")
    assert "zone-b" not in cond["message"]  # the lost zone's pods wait for their zone: the outage itself
    finding = next(f for f in short.status["singlePointsOfFailure"] if f["scope"] == "Capacity")
    assert finding["message"].startswith("CapacityShort: 1 replica Pending in zone-a")
    assert [e.reason for e in short.events if e.type == "Warning"] == ["CapacityShort"]

    again = decide(
        site({"replicas": 6}, short.status), swap_pods(observed, _pending("zone-a", 1)), T0 + timedelta(seconds=25)
    )
    assert not [e for e in again.events if e.reason.startswith("Capacity")]  # announced once
    done = world(ZONES, {"zone-a": 3, "zone-c": 3}, replicas=moved, not_ready=("zone-b",))
    restored = decide(site({"replicas": 6}, again.status), done, T0 + timedelta(seconds=30))
    assert condition(restored.status, "CapacityShort")["status"] == "False"
    assert "CapacityRestored" in {e.reason for e in restored.events}


def swap_pods(observed: Observed, extra: tuple[Pod, ...]) -> Observed:
    return swap(observed, pods=observed.pods + extra)
