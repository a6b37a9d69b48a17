from collections.abc import Mapping, Sequence

from hypothesis import given
from hypothesis import strategies as st

from spofless.core.placement import split
from spofless.core.placement.split import Placement, fail_over, spread


def place(  # the placement's two records, spelled out for short tests
    total: int,
    zones: Sequence[str],
    out_of_service: Sequence[str],
    current: Mapping[str, int | None],
    ready: Mapping[str, int],
    failover: bool,
    key: str | None = None,
    room: Mapping[str, int] | None = None,
) -> Placement:
    return split.place(split.Asked(total, zones, failover, key), split.Zones(out_of_service, current, ready, room))


ZONES = st.lists(st.sampled_from(["a", "b", "c", "d", "e"]), min_size=1, max_size=5, unique=True)


def test_spread_gives_the_remainder_to_the_first_zones_by_name() -> None:
    assert spread(7, ["c", "a", "b"]) == {"a": 3, "b": 2, "c": 2}


@given(total=st.integers(0, 500), zones=ZONES)
def test_spread_sums_to_the_total_and_no_zone_exceeds_its_share_plus_one(total: int, zones: list[str]) -> None:
    placed = spread(total, zones)
    assert sum(placed.values()) == total
    assert set(placed) == set(zones)
    assert max(placed.values()) <= total // len(zones) + 1
    assert max(placed.values()) - min(placed.values()) <= 1


@given(total=st.integers(0, 500), zones=ZONES)
def test_spread_is_deterministic_whatever_the_order(total: int, zones: list[str]) -> None:
    assert spread(total, zones) == spread(total, list(reversed(zones)))


@given(total=st.integers(0, 300), zones=ZONES, data=st.data())
def test_failover_never_drops_capacity(total: int, zones: list[str], data: st.DataObject) -> None:
    lost = data.draw(st.lists(st.sampled_from(zones), unique=True, max_size=len(zones) - 1))
    base = spread(total, zones)
    moved = fail_over(base, lost)
    healthy = [z for z in zones if z not in lost]
    assert sum(moved[z] for z in healthy) == total  # the healthy zones carry the whole spec
    assert all(moved[z] >= base[z] for z in zones)  # no zone gives anything up
    assert all(moved[z] == base[z] for z in lost)  # lost zones keep their share for their return
    assert max(moved[z] for z in healthy) - min(moved[z] for z in healthy) <= 1


def test_one_lost_zone_of_three_moves_its_replicas_to_the_other_two() -> None:
    plan = place(6, ["a", "b", "c"], ["b"], {"a": 2, "b": 2, "c": 2}, {"a": 2, "b": 0, "c": 2}, failover=True)
    assert plan.desired == {"a": 3, "b": 2, "c": 3}
    assert plan.failover_active


def test_without_failover_nothing_moves() -> None:
    plan = place(6, ["a", "b", "c"], ["b"], {"a": 2, "b": 2, "c": 2}, {"a": 2, "b": 0, "c": 2}, failover=False)
    assert plan.desired == {"a": 2, "b": 2, "c": 2}


def test_every_zone_lost_scales_nothing_down() -> None:
    plan = place(6, ["a", "b", "c"], ["a", "b", "c"], {"a": 3, "b": 2, "c": 3}, {}, failover=True)
    assert plan.desired == {"a": 3, "b": 2, "c": 3}


def test_failback_waits_for_the_returning_zone_to_be_ready() -> None:
    # b is back in service, its pods are not ready yet: a and c keep their extra replica.
    plan = place(6, ["a", "b", "c"], [], {"a": 3, "b": 2, "c": 3}, {"a": 3, "b": 0, "c": 3}, failover=True)
    assert plan.desired == {"a": 3, "b": 2, "c": 3}
    assert plan.held == {"a": 1, "c": 1}


def test_failback_steps_down_as_far_as_ready_capacity_allows() -> None:
    plan = place(6, ["a", "b", "c"], [], {"a": 3, "b": 2, "c": 3}, {"a": 3, "b": 1, "c": 3}, failover=True)
    assert plan.desired == {"a": 2, "b": 2, "c": 3}  # ready 7: one replica may go


@given(
    total=st.integers(1, 60),
    extra=st.lists(st.integers(0, 5), min_size=3, max_size=3),
    ready_b=st.integers(0, 30),
)
def test_failback_never_drops_ready_capacity_below_the_spec(total: int, extra: list[int], ready_b: int) -> None:
    zones = ["a", "b", "c"]
    base = spread(total, zones)
    current = {z: base[z] + e for z, e in zip(zones, extra, strict=True)}
    ready = {"a": current["a"], "b": min(ready_b, current["b"]), "c": current["c"]}
    plan = place(total, zones, [], current, ready, failover=True)
    # A scale-down removes unready pods first; what stays ready must still cover the spec (or all there was).
    removed_ready = sum(max(0, (current[z] - plan.desired[z]) - (current[z] - ready[z])) for z in zones)
    assert sum(ready.values()) - removed_ready >= min(total, sum(ready.values()))
    assert all(plan.desired[z] >= base[z] for z in zones)


# --- a fleet of sites: the moved replicas spread over the healthy zones ----------------------

SITE_KEYS = st.lists(
    st.text("abcdefghijklmnopqrstuvwxyz0123456789-", min_size=1, max_size=12), min_size=1, max_size=60, unique=True
)


@given(total=st.integers(0, 500), zones=ZONES, key=st.text(max_size=20))
def test_spread_in_a_site_order_keeps_the_even_split(total: int, zones: list[str], key: str) -> None:
    placed = spread(total, zones, key)
    assert sum(placed.values()) == total
    assert max(placed.values()) - min(placed.values()) <= 1
    assert placed == spread(total, list(reversed(zones)), key)  # the order is the site's, not the input's


@given(keys=SITE_KEYS, replicas=st.integers(1, 12), zones=ZONES, data=st.data())
def test_no_healthy_zone_takes_more_than_its_share_of_the_fleet_moves_plus_one_per_site(
    keys: list[str], replicas: int, zones: list[str], data: st.DataObject
) -> None:
    lost = (
        data.draw(st.lists(st.sampled_from(zones), unique=True, min_size=1, max_size=len(zones) - 1))
        if len(zones) > 1
        else []
    )
    healthy = [z for z in zones if z not in lost]
    taken = dict.fromkeys(healthy, 0)
    moved = 0
    for key in keys:
        plan = place(replicas, zones, lost, spread(replicas, zones, key), {}, failover=True, key=key)
        if lost:
            assert sum(plan.target[z] for z in healthy) == replicas  # failover never drops capacity
        for zone in healthy:
            taken[zone] += plan.target[zone] - plan.base[zone]
        moved += sum(plan.base[z] for z in lost)
    assert sum(taken.values()) == moved
    for zone in healthy:
        assert taken[zone] <= moved / len(healthy) + len(keys)


def test_a_fleet_losing_a_zone_moves_evenly_not_onto_the_first_zone_by_name() -> None:
    zones = ["zone-a", "zone-b", "zone-c"]
    taken = {"zone-a": 0, "zone-c": 0}
    for i in range(300):
        plan = place(3, zones, ["zone-b"], {z: 1 for z in zones}, {}, failover=True, key=f"bench/s{i:03d}")
        for zone in taken:
            taken[zone] += plan.target[zone] - 1
    assert sum(taken.values()) == 300
    assert 120 <= taken["zone-a"] <= 180, taken  # binomial(300, 1/2): 150 +- 26 is 3 sigma


def test_a_fleet_moves_in_proportion_to_the_free_room() -> None:
    zones = ["zone-a", "zone-b", "zone-c"]
    room = {"zone-a": 100, "zone-b": 0, "zone-c": 300}
    to_a = sum(
        place(3, zones, ["zone-b"], {z: 1 for z in zones}, {}, True, key=f"ns/s{i}", room=room).target["zone-a"] - 1
        for i in range(400)
    )
    assert 60 <= to_a <= 140, to_a  # a quarter of 400, give or take


def test_a_zone_without_room_gets_nothing_while_another_has_some() -> None:
    plan = place(6, ["a", "b", "c"], ["b"], {"a": 2, "b": 2, "c": 2}, {}, True, key="ns/x", room={"a": 0, "c": 5})
    assert plan.target == {"a": 2, "b": 2, "c": 4}


def test_with_no_room_anywhere_the_moves_still_spread_evenly() -> None:
    plan = place(6, ["a", "b", "c"], ["b"], {"a": 2, "b": 2, "c": 2}, {}, True, key="ns/x", room={"a": 0, "c": 0})
    assert plan.target == {"a": 3, "b": 2, "c": 3}


def test_replicas_already_moved_stay_when_the_room_changes() -> None:
    # Moved onto c while a was full; a has room now: nothing moves again.
    plan = place(6, ["a", "b", "c"], ["b"], {"a": 2, "b": 2, "c": 4}, {}, True, key="ns/x", room={"a": 9, "c": 0})
    assert plan.desired == {"a": 2, "b": 2, "c": 4}


@given(total=st.integers(0, 300), zones=ZONES, key=st.text(max_size=8), data=st.data())
def test_failover_in_a_site_order_never_drops_capacity(
    total: int, zones: list[str], key: str, data: st.DataObject
) -> None:
    lost = data.draw(st.lists(st.sampled_from(zones), unique=True, max_size=len(zones) - 1))
    room = data.draw(st.none() | st.fixed_dictionaries({z: st.integers(0, 20) for z in zones}))
    plan = place(total, zones, lost, spread(total, zones, key), {}, True, key=key, room=room)
    healthy = [z for z in zones if z not in lost]
    assert sum(plan.target[z] for z in healthy) == total
    assert all(plan.target[z] >= plan.base[z] for z in zones)
    assert all(plan.target[z] == plan.base[z] for z in lost)
    if room is None:
        assert max(plan.target[z] for z in healthy) - min(plan.target[z] for z in healthy) <= 1


@given(
    total=st.integers(1, 60),
    extra=st.lists(st.integers(0, 5), min_size=3, max_size=3),
    ready_b=st.integers(0, 30),
    key=st.text(max_size=8),
)
def test_failback_in_a_site_order_never_drops_ready_capacity_below_the_spec(
    total: int, extra: list[int], ready_b: int, key: str
) -> None:
    zones = ["a", "b", "c"]
    base = spread(total, zones, key)
    current = {z: base[z] + e for z, e in zip(zones, extra, strict=True)}
    ready = {"a": current["a"], "b": min(ready_b, current["b"]), "c": current["c"]}
    plan = place(total, zones, [], current, ready, failover=True, key=key)
    removed_ready = sum(max(0, (current[z] - plan.desired[z]) - (current[z] - ready[z])) for z in zones)
    assert sum(ready.values()) - removed_ready >= min(total, sum(ready.values()))
    assert all(plan.desired[z] >= base[z] for z in zones)


def test_failback_cuts_in_the_site_order_not_by_name() -> None:
    current = {"a": 3, "b": 2, "c": 3}
    ready = {"a": 3, "b": 1, "c": 3}  # one replica may go
    first_cut = {
        next(z for z in ("a", "c") if place(6, list(current), [], current, ready, True, key=f"ns/s{i}").desired[z] == 2)
        for i in range(40)
    }
    assert first_cut == {"a", "c"}


def test_ready_pods_above_a_zones_replicas_are_no_surplus_to_cut_against() -> None:
    """Found by fuzzing decide: zone b has 3 ready pods but its Deployment asks 1 (two are going
    away), so they must not pay for cutting zone c while zone a's pods are still arriving."""
    current = {"a": 1, "b": 1, "c": 3, "d": 1}
    ready = {"a": 1, "b": 3, "c": 3, "d": 0}
    plan = place(6, ["a", "b", "c", "d"], ["d"], current, ready, True)
    assert plan.target == {"a": 2, "b": 2, "c": 2, "d": 1}
    kept = sum(min(plan.desired[z], ready[z]) for z in "abc")
    assert kept >= 6 and plan.desired["c"] == 3
