"""The data-center rules: the split of spec.replicas over the members' leases, failover and failback,
the safety rules (no majority: nothing moves; several lost at once: only on a majority's word; DNS
never emptied by spofless), the DataCenter findings and the what-if, and the hook into the decision."""

from __future__ import annotations

from dataclasses import replace as swap
from datetime import datetime, timedelta
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from spofless.core.judgement import datacenters as report
from spofless.core.model.spec import DataCentersSpec, DependencySpec
from spofless.core.observed.datacenters import WITNESS, DataCenterView, MemberLease, Share
from spofless.core.placement import datacenters as dcs
from spofless.core.placement import split
from spofless.core.site.decision import decide

from .builders import T0, site, world

MEMBERS = ["dc1", "dc2", "dc3"]
SPEC = DataCentersSpec(members=MEMBERS, hostname="shop.example.com", failback_after_seconds=60)
KEY = "web/shop"
LONG_AGO = T0 - timedelta(hours=1)


def view(
    local: str = "dc1",
    live: tuple[str, ...] = ("dc1", "dc2", "dc3"),
    reachable: bool = True,
    confirmed: bool = True,
    joined: dict[str, datetime] | None = None,
    lost_at: dict[str, datetime] | None = None,
    shares: tuple[Share, ...] = (),
    store: dict[str, str] | None = None,
) -> DataCenterView:
    return DataCenterView(
        local=local,
        live=tuple(MemberLease(m, (joined or {}).get(m, LONG_AGO)) for m in live),
        reachable=reachable,
        confirmed=confirmed,
        lost_at=lost_at or {},
        shares=shares,
        store_members=store if store is not None else {m: m for m in MEMBERS},
    )


def share(dc: str, ready: int, in_dns: bool = True, room: int | None = 10, **deps: int) -> Share:
    return Share(dc, ready=ready, desired=ready, addresses=(f"10.0.0.{dc[-1]}",), in_dns=in_dns, room=room,
                 dependencies={k.replace("_", "-"): v for k, v in deps.items()})  # fmt: skip


# --- the split ------------------------------------------------------------------------------------


def test_the_replicas_are_split_evenly_over_the_members() -> None:
    plan = dcs.split(9, 1, SPEC, view(), KEY, T0)
    assert plan.target == {"dc1": 3, "dc2": 3, "dc3": 3} and plan.replicas == 3 and plan.hold is None


def test_every_data_center_computes_the_same_split_and_the_remainder_follows_the_site() -> None:
    targets = {dc: dcs.split(10, 1, SPEC, view(local=dc), KEY, T0).target for dc in MEMBERS}
    assert targets["dc1"] == targets["dc2"] == targets["dc3"]
    assert sum(targets["dc1"].values()) == 10
    # Over many sites the extra replica lands on every member, not always on the first name.
    extra = {max(dcs.split(10, 1, SPEC, view(), f"web/site-{i}", T0).target.items(), key=lambda kv: kv[1])[0]
             for i in range(30)}  # fmt: skip
    assert extra == set(MEMBERS)


def test_a_data_center_runs_at_least_one_replica_per_zone_it_needs() -> None:
    assert dcs.split(3, 2, SPEC, view(), KEY, T0).target == {"dc1": 2, "dc2": 2, "dc3": 2}
    assert dcs.split(0, 2, SPEC, view(), KEY, T0).target == {"dc1": 0, "dc2": 0, "dc3": 0}


def test_a_lost_data_center_s_share_moves_to_the_others_and_it_keeps_its_own() -> None:
    plan = dcs.split(9, 1, SPEC, view(live=("dc1", "dc3")), KEY, T0)
    assert plan.lost == ("dc2",)
    assert plan.target["dc2"] == 3  # its pods come back with it: nothing there is scaled down
    assert plan.target["dc1"] + plan.target["dc3"] == 9
    assert plan.failover_active


def test_a_returning_data_center_gets_its_share_back_after_the_failback_window() -> None:
    back = T0 - timedelta(seconds=20)
    seen = view(joined={"dc2": back}, lost_at={"dc2": back - timedelta(seconds=30)})
    during = dcs.split(9, 1, SPEC, seen, KEY, T0)
    assert during.returning == {"dc2": 40.0} and during.wake_after == 40.0
    assert during.target["dc1"] + during.target["dc3"] == 9  # the others still carry its share
    after = dcs.split(9, 1, SPEC, seen, KEY, T0 + timedelta(seconds=41))
    assert after.returning == {} and after.target == {"dc1": 3, "dc2": 3, "dc3": 3}


def test_the_failback_waits_for_the_returning_data_center_s_ready_replicas() -> None:
    back = T0 - timedelta(seconds=120)  # its window is over
    unready = view(joined={"dc2": back}, lost_at={"dc2": back - timedelta(seconds=30)}, shares=(share("dc2", 1),))
    assert (
        dcs.split(9, 1, SPEC, unready, KEY, T0).target["dc1"] + dcs.split(9, 1, SPEC, unready, KEY, T0).target["dc3"]
        == 9
    )
    ready = swap(unready, shares=(share("dc2", 3),))
    assert dcs.split(9, 1, SPEC, ready, KEY, T0).target == {"dc1": 3, "dc2": 3, "dc3": 3}


def test_a_loss_recorded_after_a_member_took_its_lease_does_not_hold_it_out() -> None:
    seen = view(joined={"dc2": T0 - timedelta(seconds=5)}, lost_at={"dc2": T0 - timedelta(seconds=1)})
    assert dcs.split(9, 1, SPEC, seen, KEY, T0).returning == {}


def test_members_that_start_together_count_at_once() -> None:
    seen = view(joined={m: T0 - timedelta(seconds=1) for m in MEMBERS})  # no loss ever recorded
    assert dcs.split(9, 1, SPEC, seen, KEY, T0).target == {"dc1": 3, "dc2": 3, "dc3": 3}


# --- the safety rules -----------------------------------------------------------------------------


def test_no_majority_no_change() -> None:
    plan = dcs.split(9, 1, SPEC, view(reachable=False, live=("dc1",)), KEY, T0)
    assert plan.replicas is None and plan.hold is dcs.Hold.STORE_UNREACHABLE and plan.target == {}


def test_several_data_centers_lost_at_once_move_nothing_without_a_majority_read() -> None:
    unconfirmed = dcs.split(9, 1, SPEC, view(live=("dc1",), confirmed=False), KEY, T0)
    assert unconfirmed.hold is dcs.Hold.UNCONFIRMED_LOSS and unconfirmed.replicas is None
    confirmed = dcs.split(9, 1, SPEC, view(live=("dc1",), confirmed=True), KEY, T0)
    assert confirmed.hold is None and confirmed.replicas == 9
    one_lost = dcs.split(9, 1, SPEC, view(live=("dc1", "dc2"), confirmed=False), KEY, T0)
    assert one_lost.hold is None  # one loss at a time needs no confirmation


def test_a_data_center_that_is_not_a_member_changes_nothing() -> None:
    assert dcs.split(9, 1, SPEC, view(local="dc9"), KEY, T0).hold is dcs.Hold.NOT_A_MEMBER


def test_dns_is_never_emptied_by_spofless() -> None:
    plan = dcs.split(9, 1, SPEC, view(), KEY, T0)
    others_ready = view(shares=(share("dc2", 3), share("dc3", 3)))
    assert dcs.in_dns(others_ready, plan, local_ready=3) is True
    assert dcs.in_dns(others_ready, plan, local_ready=0) is False  # the others answer: this one leaves
    nobody_else = view(shares=(share("dc2", 0), share("dc3", 3, in_dns=False)))
    assert dcs.in_dns(nobody_else, plan, local_ready=0) is True  # the last one stays in, ready or not
    lost_others = view(live=("dc1",), shares=(share("dc2", 3), share("dc3", 3)))
    assert dcs.in_dns(lost_others, dcs.split(9, 1, SPEC, lost_others, KEY, T0), local_ready=0) is True
    held = dcs.split(9, 1, SPEC, view(reachable=False), KEY, T0)
    assert dcs.in_dns(view(reachable=False), held, local_ready=0) is None  # no majority: DNS is left as it is


def test_a_returning_data_center_enters_dns_after_its_window() -> None:
    back = T0 - timedelta(seconds=10)
    seen = view(local="dc2", joined={"dc2": back}, lost_at={"dc2": back - timedelta(seconds=60)},
                shares=(share("dc1", 3), share("dc3", 3)))  # fmt: skip
    plan = dcs.split(9, 1, SPEC, seen, KEY, T0)
    assert dcs.in_dns(seen, plan, local_ready=3) is False
    later = dcs.split(9, 1, SPEC, seen, KEY, T0 + timedelta(seconds=60))
    assert dcs.in_dns(seen, later, local_ready=3) is True


def test_a_loss_is_recorded_only_on_a_majority_read() -> None:
    before = frozenset(MEMBERS)
    gone = dcs.unrecorded(frozenset(), before, view(live=("dc1", "dc3")))
    assert gone == {"dc2"}
    assert dcs.newly_lost(gone, view(live=("dc1", "dc3"))) == ["dc2"]
    assert dcs.newly_lost(gone, view(live=("dc1", "dc3"), confirmed=False)) == []
    assert dcs.newly_lost(gone, view(live=("dc3",), reachable=False)) == []
    # Without a majority read, nothing is known to be gone or back.
    assert dcs.unrecorded(gone, before, view(live=("dc2",), reachable=False)) == gone


def test_a_loss_seen_while_this_lease_lapsed_is_recorded_once_the_ttl_is_out() -> None:
    """The store's leader died with dc3: the election lapsed dc1's lease too. Then dc3's loss may be
    the store's doing, and waits; dc3 still gone a TTL later is lost (a kind run dropped it, and dc3
    came back into DNS without its failback window)."""
    gone = dcs.unrecorded(frozenset(), frozenset(MEMBERS), view(live=("dc1", "dc2")))
    assert dcs.newly_lost(gone, view(live=("dc1", "dc2")), own_lease_lapsed=True) == []
    gone = dcs.unrecorded(gone, frozenset({"dc1", "dc2"}), view(live=("dc1", "dc2")))  # the next round
    assert dcs.newly_lost(gone, view(live=("dc1", "dc2")), own_lease_lapsed=False) == ["dc3"]


def test_members_back_within_the_ttl_are_not_recorded_lost() -> None:
    """Every lease lapsing at once, this one's too, is the store's doing (an etcd leader paused and
    resumed): the members that take a new lease within the TTL are no loss."""
    gone = dcs.unrecorded(frozenset(), frozenset(MEMBERS), view(live=("dc1",)))
    assert gone == {"dc2", "dc3"}
    assert dcs.newly_lost(gone, view(live=("dc1",)), own_lease_lapsed=True) == []
    gone = dcs.unrecorded(gone, frozenset({"dc1"}), view(live=tuple(MEMBERS)))
    assert gone == set()
    assert dcs.newly_lost(gone, view(live=tuple(MEMBERS))) == []


lives = st.lists(st.sampled_from(MEMBERS), unique=True).map(tuple)
ages = st.dictionaries(st.sampled_from(MEMBERS), st.integers(0, 600))


@settings(max_examples=300, deadline=None)
@given(total=st.integers(0, 200), min_zones=st.integers(1, 4), live=lives, joined=ages, lost=ages,
       reachable=st.booleans(), confirmed=st.booleans(), seconds=st.integers(0, 600))  # fmt: skip
def test_every_member_computes_the_same_split_from_the_same_store(
    total: int, min_zones: int, live: tuple[str, ...], joined: dict[str, int], lost: dict[str, int],
    reachable: bool, confirmed: bool, seconds: int,
) -> None:  # fmt: skip
    now = T0 + timedelta(seconds=seconds)
    stamps = {m: T0 - timedelta(seconds=s) for m, s in joined.items()}
    losses = {m: T0 - timedelta(seconds=s) for m, s in lost.items()}
    plans = [
        dcs.split(total, min_zones, SPEC, view(m, live, reachable, confirmed, stamps, losses), KEY, now)
        for m in MEMBERS
    ]
    assert all(p.target == plans[0].target for p in plans)
    plan = plans[0]
    if not reachable or (len(set(MEMBERS) - set(live)) > 1 and not confirmed):
        assert all(p.replicas is None for p in plans)  # the safety rules: nothing moves
        return
    serving = [m for m in MEMBERS if m in live and m not in plan.returning]
    base = split.spread(total, MEMBERS, KEY)
    for member in MEMBERS:
        assert plan.target[member] >= dcs.floor(base[member], min_zones)  # no member is ever cut below its share
    if serving:
        assert sum(plan.target[m] for m in serving) >= total  # the members in service carry all of it


# --- findings and the what-if ---------------------------------------------------------------------


def scopes(found: list[Any]) -> list[tuple[str, str, str]]:
    return [(f.scope, f.name, f.severity) for f in found]


def seen(v: DataCenterView, local_ready: int = 3) -> report.Picture:
    return report.picture(v, local_ready, True, local_desired=3)


def test_a_site_spread_over_three_data_centers_has_no_data_center_finding() -> None:
    v = view(shares=(share("dc2", 3), share("dc3", 3)))
    assert report.findings(SPEC, v, seen(v), []) == []


def test_all_ready_replicas_in_one_data_center_is_a_spof() -> None:
    v = view(live=("dc1", "dc2", "dc3"), shares=(share("dc2", 0, in_dns=False), share("dc3", 0, in_dns=False)))
    assert ("DataCenter", "dc1", "SPOF") in scopes(report.findings(SPEC, v, seen(v), []))


def test_only_one_data_center_in_dns_is_a_spof() -> None:
    v = view(shares=(share("dc2", 3, in_dns=False), share("dc3", 3, in_dns=False)))
    found = report.findings(SPEC, v, seen(v), [])
    assert [f.message for f in found if f.name == "dc1"] == [
        "only data center dc1 is in DNS for shop.example.com: losing it leaves clients no address"
    ]


def test_the_store_s_majority_in_one_place_or_two_places_without_a_witness_is_a_spof() -> None:
    spread = view(shares=(share("dc2", 3), share("dc3", 3)))
    assert report.findings(SPEC, spread, seen(spread), []) == []
    two_in_dc1 = swap(spread, store_members={"a": "dc1", "b": "dc1", "c": "dc2"})
    assert scopes(report.findings(SPEC, two_in_dc1, seen(two_in_dc1), [])) == [("DataCenter", "store:dc1", "SPOF")]
    two_sites = swap(spread, store_members={"a": "dc1", "b": "dc2"})
    messages = [f.message for f in report.findings(SPEC, two_sites, seen(two_sites), [])]
    assert len(messages) == 2 and all("no witness" in m for m in messages)
    witnessed = swap(spread, store_members={"a": "dc1", "b": "dc2", "w": WITNESS})
    assert report.findings(SPEC, witnessed, seen(witnessed), []) == []


def test_a_required_dependency_in_one_data_center_only_is_a_spof() -> None:
    v = view(shares=(share("dc2", 3, db=0), share("dc3", 3, db=0)))
    mine = report.picture(swap(v, shares=(*v.shares, share("dc1", 3, db=2))), 3, True)
    deps = [DependencySpec(service="db"), DependencySpec(service="cache", required=False)]
    assert ("DataCenter", "db", "SPOF") in scopes(report.findings(SPEC, v, mine, deps))
    everywhere = report.picture(
        view(shares=(share("dc1", 3, db=1), share("dc2", 3, db=1), share("dc3", 3, db=1))), 3, True
    )
    assert report.findings(SPEC, v, everywhere, deps) == []


def test_a_long_ttl_is_a_warning() -> None:
    v = view(shares=(share("dc2", 3), share("dc3", 3)))
    long_ttl = SPEC.model_copy(update={"ttl_seconds": 300})
    assert scopes(report.findings(long_ttl, v, seen(v), [])) == [("DataCenter", "ttlSeconds", "Warning")]


def test_spofless_in_one_data_center_only_is_a_spof() -> None:
    v = view(live=("dc1",), shares=())
    assert ("DataCenter", "dc1", "SPOF") in scopes(report.findings(SPEC, v, seen(v), []))


def test_the_what_if_has_a_row_per_live_data_center() -> None:
    v = view(live=("dc1", "dc2"), shares=(share("dc2", 3, room=1),))
    rows = {r.data_center: r for r in report.loss(SPEC, seen(v, local_ready=3))}
    assert set(rows) == {"dc1", "dc2"}  # dc3 is lost: no row
    assert (rows["dc1"].ready_replicas_left, rows["dc1"].answers_left, rows["dc1"].spof) == (3, 1, True)
    assert rows["dc1"].absorbable is False  # dc2 has room for 1 of dc1's 3
    assert rows["dc2"].absorbable is None  # dc1's own room is not known to its picture


# --- the hook into the decision -------------------------------------------------------------------

ZONES = {"zone-a": 2, "zone-b": 2}


def dc_site(status: dict[str, Any] | None = None) -> Any:
    return site({"replicas": 12, "dataCenters": {"members": MEMBERS, "hostname": "shop.example.com"}}, status)


def test_the_decision_runs_this_data_center_s_share() -> None:
    observed = swap(world(ZONES, {}, replicas={}), datacenters=view())
    result = decide(dc_site(), observed, T0)
    assert {m["metadata"]["name"]: m["spec"]["replicas"] for m in result.apply if m["kind"] == "Deployment"} == {
        "shop-zone-a": 2,
        "shop-zone-b": 2,
    }
    assert [d["name"] for d in result.status["dataCenters"]] == MEMBERS


def test_without_the_majority_the_decision_scales_nothing_up_or_down() -> None:
    running = {"zone-a": 5, "zone-b": 1}  # whatever runs stays, however far from the split
    observed = swap(world(ZONES, running), datacenters=view(reachable=False, live=()))
    result = decide(dc_site(), observed, T0)
    assert {m["metadata"]["name"]: m["spec"]["replicas"] for m in result.apply if m["kind"] == "Deployment"} == {
        "shop-zone-a": 5,
        "shop-zone-b": 1,
    }
    held = next(c for c in result.status["conditions"] if c["type"] == "DataCenterFailover")
    assert (held["status"], held["reason"]) == ("False", "StoreUnreachable")


def test_a_lost_data_center_is_announced_and_its_share_carried() -> None:
    steady = decide(dc_site(), swap(world(ZONES, {"zone-a": 2, "zone-b": 2}), datacenters=view(
        shares=(share("dc2", 4), share("dc3", 4))
    )), T0).status  # fmt: skip
    lost = swap(
        world(ZONES, {"zone-a": 2, "zone-b": 2}), datacenters=view(live=("dc1", "dc3"), shares=(share("dc3", 4),))
    )
    result = decide(dc_site(steady), lost, T0 + timedelta(seconds=5))
    assert sum(m["spec"]["replicas"] for m in result.apply if m["kind"] == "Deployment") == 6
    assert "DataCenterLost" in [e.reason for e in result.events]
    assert result.status["phase"] == "Degraded"
    failover = next(c for c in result.status["conditions"] if c["type"] == "DataCenterFailover")
    assert (failover["status"], failover["reason"]) == ("True", "DataCenterLost")
