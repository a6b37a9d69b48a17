"""Scale, the minZones floor, full zones, evacuations and zone-local traffic, decided by the core."""

from dataclasses import replace
from datetime import timedelta
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from spofless.core.model.spec import ResilientSiteSpec
from spofless.core.model.times import text as timestamp
from spofless.core.observed.records import Observed, Pod
from spofless.core.placement import scale, split, triggers
from spofless.core.site.decision import Decision, decide

from .builders import T0, TEMPLATE, site, world

ZONES = {"zone-a": 3, "zone-b": 3, "zone-c": 3}
EVEN = {"zone-a": 2, "zone-b": 2, "zone-c": 2}


def deployments(result: Decision) -> dict[str, int]:
    return {m["metadata"]["name"][5:]: m["spec"]["replicas"] for m in result.apply if m["kind"] == "Deployment"}


def condition(status: dict[str, Any], kind: str) -> dict[str, Any] | None:
    return next((c for c in status["conditions"] if c["type"] == kind), None)


def zone(status: dict[str, Any], name: str) -> dict[str, Any]:
    return next(z for z in status["zones"] if z["name"] == name)


def service(result: Decision) -> dict[str, Any]:
    return next(m for m in result.apply if m["kind"] == "Service")


def steady(spec: dict[str, Any], ready: dict[str, int] = EVEN) -> dict[str, Any]:
    return decide(site(spec), world(ZONES, ready), T0).status


# --- scale ----------------------------------------------------------------------------------


def test_scaling_3_to_9_to_4_keeps_the_zones_even_and_reports_the_scale() -> None:
    status = steady({"replicas": 3}, {"zone-a": 1, "zone-b": 1, "zone-c": 1})
    assert (status["replicas"], status["selector"]) == (
        3,
        "app.kubernetes.io/managed-by=spofless,spofless.dev/site=shop",
    )
    have = {"zone-a": 1, "zone-b": 1, "zone-c": 1}
    for replicas, even in [(9, [3, 3, 3]), (4, [2, 1, 1])]:
        result = decide(site({"replicas": replicas}, status), world(ZONES, have, replicas=have), T0)
        assert sorted(deployments(result).values(), reverse=True) == even
        assert result.status["replicas"] == replicas
        scaled = [e for e in result.events if e.reason == "Scaled"]
        assert len(scaled) == 1 and "zone-a" in scaled[0].message
        status, have = result.status, deployments(result)


def test_below_min_zones_runs_one_replica_per_zone_and_warns_once() -> None:
    spec = {"replicas": 1, "minZones": 2, "zones": ["zone-a", "zone-b"]}
    first = decide(site(spec), world(ZONES, {}, replicas={}), T0)
    assert deployments(first) == {"zone-a": 1, "zone-b": 1}
    warning = [f for f in first.status["singlePointsOfFailure"] if f["name"] == "spec.replicas"]
    assert warning and warning[0]["severity"] == "Warning" and "minZones 2" in warning[0]["message"]
    assert "ReplicasBelowMinZones" in {e.reason for e in first.events}
    assert first.status["replicas"] == 2
    again = decide(site(spec, first.status), world(ZONES, {"zone-a": 1, "zone-b": 1}), T0)
    assert "ReplicasBelowMinZones" not in {e.reason for e in again.events}


def test_zero_replicas_is_an_explicit_stop() -> None:
    result = decide(site({"replicas": 0}, steady({"replicas": 6})), world(ZONES, EVEN), T0)
    assert set(deployments(result).values()) == {0}
    assert result.status["replicas"] == 0


def test_during_a_failover_status_replicas_stays_at_the_scale_asked() -> None:
    moved = decide(
        site({"replicas": 6}, steady({"replicas": 6})),
        world(ZONES, {"zone-a": 3, "zone-c": 3}, replicas=EVEN, not_ready=("zone-b",)),
        T0 + timedelta(seconds=5),
    )
    assert sum(deployments(moved).values()) == 8  # zone-b keeps its 2: they may serve behind a partition
    assert moved.status["replicas"] == 6


@given(
    total=st.integers(0, 40),
    min_zones=st.integers(1, 3),
    lost=st.sets(st.sampled_from(sorted(ZONES))),
    current=st.lists(st.integers(0, 20), min_size=3, max_size=3),
    ready=st.lists(st.integers(0, 20), min_size=3, max_size=3),
)
def test_status_replicas_never_exceeds_the_scale_asked(
    total: int, min_zones: int, lost: set[str], current: list[int], ready: list[int]
) -> None:
    names = sorted(ZONES)
    spec = {"replicas": total, "minZones": min_zones}
    observed = world(
        ZONES,
        {z: min(r, c) for z, r, c in zip(names, ready, current, strict=True)},
        replicas=dict(zip(names, current, strict=True)),
        not_ready=tuple(sorted(lost)),
    )
    result = decide(site(spec, steady({"replicas": 6})), observed, T0 + timedelta(seconds=5))
    assert result.status["replicas"] <= scale.replicas(ResilientSiteSpec.model_validate({**spec, "template": TEMPLATE}))


# --- full zones -----------------------------------------------------------------------------


def pending(zone_name: str, since: Any, count: int = 1) -> tuple[Pod, ...]:
    return tuple(
        Pod(
            name=f"shop-{zone_name}-pending-{i}",
            zone=zone_name,
            node=None,
            ready=False,
            terminating=False,
            unschedulable=True,
            unschedulable_message="0/9 nodes are available: 3 node(s) were unschedulable",
            unschedulable_since=since,
        )
        for i in range(count)
    )


def with_pods(observed: Observed, extra: tuple[Pod, ...]) -> Observed:
    return replace(observed, pods=observed.pods + extra)


FULL_SPEC = {"replicas": 6, "failover": {"unschedulableAfterSeconds": 30, "failbackAfterSeconds": 60}}


def test_pods_unschedulable_past_the_threshold_make_the_zone_full_and_move_its_share() -> None:
    status = steady(FULL_SPEC)
    observed = with_pods(world(ZONES, {"zone-a": 2, "zone-b": 1, "zone-c": 2}, replicas=EVEN), pending("zone-b", T0))
    early = decide(site(FULL_SPEC, status), observed, T0 + timedelta(seconds=10))
    assert deployments(early) == {"zone-a": 2, "zone-b": 2, "zone-c": 2}  # a few seconds is no trigger
    assert early.wake_after is not None and 19 <= early.wake_after <= 20  # woken when it would be
    assert not early.wake_moves  # a trigger's threshold: no capacity moves back when it is due
    late = decide(site(FULL_SPEC, early.status), observed, T0 + timedelta(seconds=31))
    assert deployments(late) == {"zone-a": 3, "zone-b": 2, "zone-c": 3}
    assert zone(late.status, "zone-b")["cause"] == "ZoneFull"
    assert zone(late.status, "zone-b")["healthy"] is True  # its nodes are Ready: full, not lost
    failover = condition(late.status, "FailoverActive")
    assert failover is not None and failover["reason"] == "ZoneFull" and "0/9 nodes" in failover["message"]
    assert {"ZoneFull", "Failover"} <= {e.reason for e in late.events}
    assert late.status["replicas"] == 6


def test_a_pod_pulling_its_image_is_no_trigger() -> None:
    pulling = Pod(name="p", zone="zone-b", node="zone-b-0", ready=False, terminating=False)
    observed = with_pods(world(ZONES, {"zone-a": 2, "zone-b": 1, "zone-c": 2}, replicas=EVEN), (pulling,))
    result = decide(site(FULL_SPEC, steady(FULL_SPEC)), observed, T0 + timedelta(hours=1))
    assert deployments(result) == {"zone-a": 2, "zone-b": 2, "zone-c": 2}
    assert zone(result.status, "zone-b").get("cause") is None


def test_a_full_zone_fails_back_after_the_window_once_it_schedules_again() -> None:
    full = with_pods(world(ZONES, {"zone-a": 2, "zone-b": 1, "zone-c": 2}, replicas=EVEN), pending("zone-b", T0))
    status = decide(site(FULL_SPEC, steady(FULL_SPEC)), full, T0 + timedelta(seconds=31)).status
    moved = {"zone-a": 3, "zone-b": 2, "zone-c": 3}
    room = world(ZONES, {"zone-a": 3, "zone-b": 2, "zone-c": 3}, replicas=moved)
    back = decide(site(FULL_SPEC, status), room, T0 + timedelta(seconds=40))
    assert deployments(back) == moved
    assert "ZoneHasRoom" in {e.reason for e in back.events}
    assert back.wake_after is not None and 59 <= back.wake_after <= 60
    assert back.wake_moves  # the failback window: served with the moves (the engine's lane)
    done = decide(site(FULL_SPEC, back.status), room, T0 + timedelta(seconds=101))
    assert deployments(done) == EVEN
    assert "Failback" in {e.reason for e in done.events}


# --- evacuation -----------------------------------------------------------------------------


def evacuate(*zones: str, until: Any = None, force: bool = False) -> dict[str, Any]:
    end = timestamp(until or T0 + timedelta(seconds=60))
    entries = [{"zone": z, "until": end, **({"force": True} if force else {})} for z in zones]
    return {"replicas": 6, "failover": {"failbackAfterSeconds": 10, "evacuate": entries}}


def test_an_evacuation_adds_capacity_first_then_empties_the_zone() -> None:
    spec = evacuate("zone-b")
    start = decide(site(spec, steady({"replicas": 6})), world(ZONES, EVEN), T0)
    assert deployments(start) == {"zone-a": 3, "zone-b": 2, "zone-c": 3}  # zone-b keeps all until others are ready
    assert zone(start.status, "zone-b")["cause"] == "Evacuated"
    assert start.wake_after is not None and 59 <= start.wake_after <= 60  # wakes at `until`
    assert "Evacuating" in {e.reason for e in start.events}
    one_more = world(ZONES, {"zone-a": 3, "zone-b": 2, "zone-c": 2}, replicas=deployments(start))
    middle = decide(site(spec, start.status), one_more, T0 + timedelta(seconds=5))
    assert deployments(middle)["zone-b"] == 1  # one ready elsewhere: one goes
    ready = world(ZONES, {"zone-a": 3, "zone-b": 1, "zone-c": 3}, replicas=deployments(middle))
    done = decide(site(spec, middle.status), ready, T0 + timedelta(seconds=10))
    assert deployments(done) == {"zone-a": 3, "zone-b": 0, "zone-c": 3}
    assert done.status["phase"] == "Degraded" and "evacuated" in done.status["message"]
    emptied = world(ZONES, {"zone-a": 3, "zone-c": 3}, replicas=deployments(done))
    after = decide(site(spec, done.status), emptied, T0 + timedelta(seconds=20))
    assert deployments(after)["zone-b"] == 0  # stays empty, never grows back meanwhile
    assert after.status["evacuations"][0]["state"] == "Evacuated"


def test_an_ended_evacuation_fails_back_after_the_window() -> None:
    spec = evacuate("zone-b")
    out = {"zone-a": 3, "zone-b": 0, "zone-c": 3}
    first = decide(site(spec, steady({"replicas": 6})), world(ZONES, {"zone-a": 3, "zone-c": 3}, replicas=out), T0)
    status = decide(site(spec, first.status), world(ZONES, {"zone-a": 3, "zone-c": 3}, replicas=out), T0).status
    ended = decide(
        site(spec, status), world(ZONES, {"zone-a": 3, "zone-c": 3}, replicas=out), T0 + timedelta(seconds=61)
    )
    assert ended.status["evacuations"][0]["state"] == "Ended"
    assert "EvacuationEnded" in {e.reason for e in ended.events}
    assert [e.reason for e in ended.events if e.reason in ("Failover", "Failback")] == ["Failback"]  # a return
    assert deployments(ended)["zone-b"] == 2  # pods come back to the zone at once; the others hold theirs
    assert deployments(ended)["zone-a"] == 3
    back = world(ZONES, {"zone-a": 3, "zone-b": 2, "zone-c": 3}, replicas={"zone-a": 3, "zone-b": 2, "zone-c": 3})
    done = decide(site(spec, ended.status), back, T0 + timedelta(seconds=72))
    assert deployments(done) == EVEN


def test_an_evacuation_leaving_fewer_than_min_zones_is_refused_unless_forced() -> None:
    spec = evacuate("zone-b", "zone-c")
    result = decide(site(spec, steady({"replicas": 6})), world(ZONES, EVEN), T0)
    states = {e["zone"]: e["state"] for e in result.status["evacuations"]}
    assert states == {"zone-b": "Evacuating", "zone-c": "Refused"}  # the refused one never undoes the first
    cond = condition(result.status, "Evacuation")
    assert cond is not None and cond["status"] == "False" and cond["reason"] == "Refused"
    assert "fewer than minZones 2" in cond["message"] and "force: true" in cond["message"]
    assert "EvacuationRefused" in {e.reason for e in result.events}
    forced = decide(site(evacuate("zone-b", "zone-c", force=True), steady({"replicas": 6})), world(ZONES, EVEN), T0)
    assert {e["state"] for e in forced.status["evacuations"]} == {"Evacuating"}
    assert deployments(forced)["zone-a"] == 6


@given(
    ready=st.lists(st.integers(0, 8), min_size=3, max_size=3),
    desired=st.lists(st.integers(0, 8), min_size=3, max_size=3),
    total=st.integers(1, 20),
    evacuating=st.sets(st.sampled_from(["a", "b", "c"]), min_size=1, max_size=2),
)
def test_draining_never_drops_ready_capacity_below_the_spec(
    ready: list[int], desired: list[int], total: int, evacuating: set[str]
) -> None:
    names = ["a", "b", "c"]
    have = dict(zip(names, ready, strict=True))
    want = {z: max(d, have[z]) if z in evacuating else d for z, d in zip(names, desired, strict=True)}
    plan = split.Placement(desired=want, target=dict(want), base=dict(want), held={})
    drained = triggers.drain(plan, sorted(evacuating), have, total)
    # The worst case: every pod the evacuated zones lose was ready.
    left = sum(have.values()) - sum(max(0, have[z] - drained.desired[z]) for z in evacuating)
    assert left >= min(total, sum(have.values()))
    assert all(drained.desired[z] <= want[z] for z in evacuating)  # an evacuated zone never grows


# --- zone-local traffic ---------------------------------------------------------------------


TRAFFIC = {"replicas": 6, "service": {"trafficDistribution": "PreferSameZone"}}


def test_traffic_distribution_is_set_while_balanced_and_lifted_otherwise() -> None:
    balanced = decide(site(TRAFFIC, steady(TRAFFIC)), world(ZONES, EVEN), T0)
    assert service(balanced)["spec"]["trafficDistribution"] == "PreferSameZone"
    assert balanced.status["trafficDistribution"] == "PreferSameZone"
    cond = condition(balanced.status, "TrafficDistribution")
    assert cond is not None and (cond["status"], cond["reason"]) == ("True", "Balanced")
    lost = decide(
        site(TRAFFIC, balanced.status),
        world(ZONES, {"zone-a": 2, "zone-c": 2}, replicas=EVEN, not_ready=("zone-b",)),
        T0 + timedelta(seconds=5),
    )
    assert "trafficDistribution" not in service(lost)["spec"]
    assert lost.status["trafficDistribution"] == ""
    cond = condition(lost.status, "TrafficDistribution")
    assert cond is not None and (cond["status"], cond["reason"]) == ("False", "ZoneLost")
    assert "TrafficDistributionLifted" in {e.reason for e in lost.events}
    short = decide(site(TRAFFIC, balanced.status), world(ZONES, {"zone-a": 2, "zone-b": 1, "zone-c": 2}, EVEN), T0)
    assert "trafficDistribution" not in service(short)["spec"]
    assert condition(short.status, "TrafficDistribution")["reason"] == "ShortOfReadyPods"  # type: ignore[index]


def test_without_traffic_distribution_asked_the_service_and_status_have_none() -> None:
    result = decide(site({"replicas": 6}, steady({"replicas": 6})), world(ZONES, EVEN), T0)
    assert "trafficDistribution" not in service(result)["spec"]
    assert condition(result.status, "TrafficDistribution") is None


def test_pods_pending_through_an_outage_do_not_make_the_returning_zone_full() -> None:
    lost_world = with_pods(
        world(ZONES, {"zone-a": 3, "zone-c": 3}, replicas=EVEN, not_ready=("zone-b",)), pending("zone-b", T0)
    )
    lost = decide(site(FULL_SPEC, steady(FULL_SPEC)), lost_world, T0 + timedelta(seconds=5))
    assert zone(lost.status, "zone-b")["cause"] == "ZoneLost"
    still = decide(site(FULL_SPEC, lost.status), lost_world, T0 + timedelta(seconds=300))
    assert zone(still.status, "zone-b")["cause"] == "ZoneLost"
    moved = {"zone-a": 3, "zone-b": 2, "zone-c": 3}
    back_world = with_pods(world(ZONES, {"zone-a": 3, "zone-c": 3}, replicas=moved), pending("zone-b", T0))
    back = decide(site(FULL_SPEC, still.status), back_world, T0 + timedelta(seconds=301))
    assert zone(back.status, "zone-b").get("cause") is None  # its pods schedule as the zone returns
    assert "ZoneFull" not in {e.reason for e in back.events}
    # Still Pending a full threshold after the zone came back: now it is full.
    later = decide(site(FULL_SPEC, back.status), back_world, T0 + timedelta(seconds=332))
    assert zone(later.status, "zone-b")["cause"] == "ZoneFull"


def test_a_lifted_traffic_distribution_is_removed_from_the_service_explicitly() -> None:
    from spofless.core.observed.records import Child

    balanced = decide(site(TRAFFIC, steady(TRAFFIC)), world(ZONES, EVEN), T0)
    have = Child(kind="Service", name="shop", zone=None, body=service(balanced))
    lost_world = world(ZONES, {"zone-a": 2, "zone-c": 2}, replicas=EVEN, not_ready=("zone-b",))
    lost = decide(site(TRAFFIC, balanced.status), replace(lost_world, children=(*lost_world.children, have)), T0)
    # An explicit null: a field merely left out would look covered by the Service that still has it.
    assert service(lost)["spec"]["trafficDistribution"] is None
