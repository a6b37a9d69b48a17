"""The one status builder: kstatus conditions (Ready, Reconciling, Stalled) with their generation, the
phase from one place, and the two partial statuses (a crashed pass, a zone-health report)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from spofless.core.site.crash import crashed
from spofless.core.site.decision import decide

from .builders import T0, TEMPLATE, site, world
from .test_decision_rollout import NEW, NEW_REV, OLD_REV, ZONES, change, cluster, steady

EVEN = {"zone-a": 2, "zone-b": 2, "zone-c": 2}
SPEC = {"replicas": 6}


def condition(status: dict[str, Any], kind: str) -> dict[str, Any]:
    return next(c for c in status["conditions"] if c.get("type") == kind)


def kstatus(status: dict[str, Any]) -> tuple[str, str, str]:
    return tuple(condition(status, k)["status"] for k in ("Ready", "Reconciling", "Stalled"))


def test_a_new_site_is_reconciling_and_not_ready_then_ready_once_every_replica_is() -> None:
    first = decide(site(SPEC, generation=3), world(ZONES, {}, replicas={}), T0).status
    assert kstatus(first) == ("False", "True", "False")
    assert condition(first, "Reconciling")["reason"] == "FirstRollout"
    settled = decide(site(SPEC, first, generation=3), world(ZONES, EVEN), T0).status
    assert kstatus(settled) == ("True", "False", "False")
    assert settled["observedGeneration"] == 3
    assert all(c["observedGeneration"] == 3 for c in settled["conditions"])


def test_a_lost_zone_is_reconciling_and_ready_once_its_replicas_are_ready_elsewhere() -> None:
    steady_status = decide(site(SPEC), world(ZONES, EVEN), T0).status
    lost = world(ZONES, {"zone-a": 2, "zone-c": 2}, replicas=EVEN, not_ready=("zone-b",))
    short = decide(site(SPEC, steady_status), lost, T0 + timedelta(seconds=5)).status
    assert kstatus(short) == ("False", "True", "False")
    assert condition(short, "Reconciling")["reason"] == "Failover"
    moved = world(ZONES, {"zone-a": 3, "zone-c": 3}, replicas={"zone-a": 3, "zone-b": 2, "zone-c": 3},
                  not_ready=("zone-b",))  # fmt: skip
    carried = decide(site(SPEC, short), moved, T0 + timedelta(seconds=30)).status
    assert kstatus(carried) == ("True", "True", "False")
    assert carried["phase"] == "Degraded"


def test_an_invalid_spec_is_stalled_and_not_ready() -> None:
    status = decide(site({"replicas": "many"}), world(ZONES, EVEN), T0).status
    assert status["phase"] == "Invalid"
    assert kstatus(status) == ("False", "False", "True")
    assert condition(status, "Stalled")["reason"] == "InvalidSpec"


def test_a_halted_rollout_is_stalled_and_not_ready() -> None:
    first = change(steady(), cluster({z: TEMPLATE for z in ZONES}, {z: {OLD_REV: 2} for z in ZONES}), T0)
    assert kstatus(first.status) == ("False", "True", "False")
    assert condition(first.status, "Reconciling")["reason"] == "RolloutProgressing"
    stuck = cluster({"zone-a": NEW, "zone-b": TEMPLATE, "zone-c": TEMPLATE}, {z: {OLD_REV: 2} for z in ZONES})
    halted = change(first.status, stuck, T0 + timedelta(seconds=61)).status
    assert kstatus(halted) == ("False", "False", "True")
    assert condition(halted, "Stalled")["reason"] == "RolloutHalted"
    assert halted["rollout"]["targetRevision"] == NEW_REV


def test_an_invalid_site_keeps_its_rollout_memory() -> None:
    before = steady()
    invalid = decide(site({"replicas": 6, "zones": ["zone-a", "nowhere"]}, before), world(ZONES, EVEN), T0).status
    assert invalid["phase"] == "Invalid" and invalid["rollout"] == before["rollout"]


# --- a crashed pass --------------------------------------------------------------------------------


def test_a_crash_marks_reconciled_false_and_keeps_the_rest() -> None:
    before = decide(site(SPEC), world(ZONES, EVEN), T0).status
    out = crashed(before, ValueError("boom"), T0 + timedelta(seconds=5), 4)
    reconciled = condition(out, "Reconciled")
    assert (reconciled["status"], reconciled["reason"]) == ("False", "InternalError") and "boom" in reconciled[
        "message"
    ]
    assert reconciled["observedGeneration"] == 4 and reconciled["lastTransitionTime"] == "2026-11-27T12:00:05Z"
    assert {k: v for k, v in out.items() if k != "conditions"} == {k: v for k, v in before.items() if k != "conditions"}
    again = crashed(out, "boom", T0 + timedelta(minutes=5), 4)
    assert condition(again, "Reconciled")["lastTransitionTime"] == "2026-11-27T12:00:05Z"


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True) | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=20,
)


@settings(max_examples=200, deadline=None)
@given(
    raw=JSON | st.dictionaries(st.sampled_from(["conditions", "phase", "zones"]), JSON),
    message=st.one_of(st.text(max_size=2000), st.integers(), st.none()),
    generation=JSON,
)
def test_a_crash_report_never_raises(raw: Any, message: Any, generation: Any) -> None:
    out = crashed(raw, message, T0, generation)
    assert condition(out, "Reconciled")["reason"] == "InternalError"
    assert len(condition(out, "Reconciled")["message"]) <= 500


def test_a_rollout_finding_counts_in_the_phase_like_every_other_spof() -> None:
    """A halted rollout with one zone left on a working revision: the Rollout finding is a single point
    of failure, so the phase, Redundant and the spof flag say so (one answer, from one place)."""
    before = steady()
    before["rollout"] = {"targetRevision": NEW_REV, "stableRevision": OLD_REV, "phase": "Halted",
                         "haltedZone": "zone-b", "haltReason": "PodsFailing", "message": "halted"}  # fmt: skip
    observed = cluster(
        {"zone-a": NEW, "zone-b": NEW, "zone-c": TEMPLATE},
        {"zone-a": {NEW_REV: 2}, "zone-b": {NEW_REV: 2}, "zone-c": {OLD_REV: 2}},
    )
    status = change(before, observed, T0 + timedelta(seconds=5)).status
    assert [f["scope"] for f in status["singlePointsOfFailure"] if f["severity"] == "SPOF"] == ["Rollout"]
    assert (status["phase"], status["spof"]) == ("AtRisk", True)
    assert condition(status, "Redundant")["status"] == "False"
