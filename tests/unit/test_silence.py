"""The zone-silence judgement and each of its guards."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from spofless.core.placement.silence import LeaseSeen, judge

INTERVAL = 10.0


def leases(silent: dict[str, float], nodes: int = 2) -> list[LeaseSeen]:
    """`nodes` Leases per zone, each silent for the zone's seconds."""
    return [LeaseSeen(f"{z}-{i}", z, s, INTERVAL) for z, s in silent.items() for i in range(nodes)]


def test_a_zone_whose_every_lease_stopped_while_the_others_renew_is_silent() -> None:
    verdict = judge(leases({"a": 3, "b": 16, "c": 1}), watched_for=60)
    assert (verdict.zone, verdict.silent_for) == ("b", 16)


def test_zones_that_stopped_an_interval_apart_or_less_may_have_failed_together() -> None:
    """b is past its threshold (12 s) and c not yet; but c has not renewed since b missed its renewal
    (14 - 10 = 4 s ago): the two may have died together, a moment apart."""
    verdict = judge(leases({"a": 1, "b": 14, "c": 10}), watched_for=60)
    assert verdict.zone is None and "together" in verdict.held_by and "c" in verdict.held_by


def test_a_zone_judged_silent_stays_so_while_its_leases_stay_quiet() -> None:
    """A second zone going quiet (or a lagging watch) says nothing of the first one's return."""
    assert judge(leases({"a": 3, "b": 40, "c": 20}), watched_for=60, judged="b").zone == "b"
    assert judge(leases({"a": 3, "b": 40, "c": 20}), watched_for=2, judged="b").zone == "b"
    assert judge(leases({"a": 3, "b": 1, "c": 2}), watched_for=60, judged="b").zone is None
    assert judge(leases({"a": 3, "b": 40, "c": 2}), watched_for=60, held_off={"b"}, judged="b").zone is None


def test_a_late_renewal_within_the_margin_is_no_silence() -> None:
    assert judge(leases({"a": 3, "b": 11.9, "c": 1}), watched_for=60).zone is None


def test_one_lease_still_renewing_keeps_the_zone_alive() -> None:
    zone_b = [LeaseSeen("b-0", "b", 30, INTERVAL), LeaseSeen("b-1", "b", 4, INTERVAL)]
    assert judge([*leases({"a": 3, "c": 1}), *zone_b], watched_for=60).zone is None


def test_two_zones_silent_together_act_on_neither() -> None:
    verdict = judge(leases({"a": 3, "b": 20, "c": 20}), watched_for=60)
    assert verdict.zone is None
    assert verdict.looks_silent == ("b", "c") and "more than one" in verdict.held_by


def test_every_zone_silent_is_the_operators_trouble_not_an_outage() -> None:
    assert judge(leases({"a": 30, "b": 30, "c": 30}), watched_for=60).zone is None


def test_no_verdict_before_the_leases_were_watched_a_full_interval() -> None:
    """Just started, or the watch was listed again: a silence not seen to begin is no evidence."""
    verdict = judge(leases({"a": 3, "b": 13, "c": 1}), watched_for=5)
    assert verdict.zone is None and "watched" in verdict.held_by


def test_after_a_broken_watch_the_verdict_waits_several_intervals() -> None:
    """The API server was away: every kubelet's renewals come back on its own retries, a turn or two
    apart. On the local cluster one zone renewed once after 15 s without kube-apiserver, then not for
    8 s while the others did: one interval of watching (5 s + 2 s there) took it for silent."""
    quiet_b = leases({"a": 2, "b": 13, "c": 1})
    assert judge(quiet_b, watched_for=13).zone == "b"  # at the operator's start: one interval
    verdict = judge(quiet_b, watched_for=13, after_break=True)
    assert verdict.zone is None and "watched for 13 s" in verdict.held_by
    assert judge(leases({"a": 3, "b": 33, "c": 1}), watched_for=33, after_break=True).zone == "b"


def test_a_zone_proved_alive_by_a_kubelet_is_held_off() -> None:
    verdict = judge(leases({"a": 3, "b": 16, "c": 1}), watched_for=60, held_off={"b"})
    assert verdict.zone is None and "alive" in verdict.held_by


def test_a_single_zone_cluster_has_nothing_to_compare_with() -> None:
    assert judge(leases({"a": 30}), watched_for=60).zone is None


def test_a_zone_of_one_node_is_judged_like_any_other() -> None:
    assert judge(leases({"a": 3, "b": 16, "c": 1}, nodes=1), watched_for=60).zone == "b"


@given(st.dictionaries(st.sampled_from("abcde"), st.floats(0, 100), max_size=5), st.floats(0, 100))
def test_a_verdict_always_names_a_zone_whose_every_lease_is_quiet_and_the_only_one(
    silent: dict[str, float], watched: float
) -> None:
    verdict = judge(leases(silent), watched_for=watched)
    if verdict.zone is not None:
        assert silent[verdict.zone] > INTERVAL + 2
        assert all(s <= INTERVAL + 2 for z, s in silent.items() if z != verdict.zone)
        assert all(s < silent[verdict.zone] - INTERVAL for z, s in silent.items() if z != verdict.zone)
        assert watched >= INTERVAL + 2 and len(silent) >= 2
