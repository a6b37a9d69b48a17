from hypothesis import given
from hypothesis import strategies as st

from spofless.core.placement import fail_over, place, spread

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
