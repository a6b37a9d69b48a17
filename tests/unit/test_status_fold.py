"""Which status changes may wait to be written folded with the next, and how long (core: decision.fold_wait)."""

from __future__ import annotations

import itertools
from dataclasses import replace
from datetime import timedelta
from typing import Any

from spofless.core.model.events import Event
from spofless.core.site import decision

from .builders import T0, site, world

ZONES = {"zone-a": 3, "zone-b": 3, "zone-c": 3}
SPEC = {"replicas": 3, "failover": {"failbackAfterSeconds": 60}}
EVEN = {"zone-a": 1, "zone-b": 1, "zone-c": 1}
MOVED = {"zone-a": 2, "zone-b": 1, "zone-c": 1}  # zone-b's replica moved to zone-a, zone-b's Deployment kept


def outage() -> list[decision.Decision]:
    """A site through zone-b's loss and return: settled, lost, moved, back, zone-b's pod ready again."""
    out: list[decision.Decision] = []
    status: dict[str, Any] = {}
    steps = [
        (world(ZONES, EVEN), 0),
        (world(ZONES, EVEN), 0),
        (world(ZONES, {"zone-a": 1, "zone-c": 1}, replicas=EVEN, not_ready=("zone-b",)), 5),
        (world(ZONES, {"zone-a": 2, "zone-c": 1}, replicas=MOVED, not_ready=("zone-b",)), 20),
        (world(ZONES, {"zone-a": 2, "zone-c": 1}, replicas=MOVED), 60),
        (world(ZONES, {"zone-a": 2, "zone-b": 1, "zone-c": 1}, replicas=MOVED), 62),
    ]
    for observed, seconds in steps:
        out.append(decision.decide(site(SPEC, status), observed, T0 + timedelta(seconds=seconds)))
        status = out[-1].status
    return out


def test_a_returning_zones_pod_turning_ready_is_a_change_of_counts_only() -> None:
    *_, back, ready = outage()
    assert ready.events == [] and ready.status != back.status
    assert decision.counts_only(back.status, ready.status)
    assert decision.fold_wait(back.status, ready, 10.0, since_write=2.0) == 8.0
    assert decision.fold_wait(back.status, ready, 10.0, since_write=30.0) == 0.0


def test_counts_wait_for_a_timed_step_due_within_the_fold() -> None:
    """The zone's pod ready long after the zone's return: its failback, due in 9 s, writes both."""
    *_, back, ready = outage()
    due_soon, due_later = replace(ready, wake_after=9.0), replace(ready, wake_after=11.0)
    assert decision.fold_wait(back.status, due_soon, 10.0, since_write=30.0) == 9.0
    assert decision.fold_wait(back.status, due_later, 10.0, since_write=30.0) == 0.0


def test_counts_are_written_at_once_unless_the_operator_is_told_to_fold_them() -> None:
    *_, back, ready = outage()
    assert decision.fold_wait(back.status, replace(ready, wake_after=1.0), 0.0, since_write=0.5) == 0.0


def test_a_first_rollouts_progress_waits_until_its_window_after_the_last_write() -> None:
    first = decision.decide(site(SPEC), world(ZONES, {}, replicas={}), T0)
    some = decision.decide(site(SPEC, first.status), world(ZONES, {"zone-a": 1}, replicas=EVEN), T0)
    assert decision.progress_only(first.status, some.status)
    assert decision.fold_wait(first.status, some, 0.0, since_write=5.0) == decision.PROGRESS_SECONDS - 5.0


def test_news_is_never_folded() -> None:
    """A zone lost, capacity moved, a zone back: each changes more than counts, and is written at once."""
    steps = outage()[1:-1]
    for old, new in itertools.pairwise(steps):
        assert not decision.counts_only(old.status, new.status), (old.status.get("phase"), new.status.get("phase"))
        assert decision.fold_wait(old.status, new, 10.0, since_write=1.0) == 0.0


def test_a_pass_with_an_event_is_written_at_once() -> None:
    *_, back, ready = outage()
    announced = replace(ready, events=[Event("Normal", "Scaled", "zone-a 2 -> 1")])
    assert decision.fold_wait(back.status, announced, 10.0, since_write=1.0) == 0.0


def test_a_changed_finding_or_condition_status_is_news() -> None:
    *_, back, ready = outage()
    flipped = [{**c, "status": "False"} if c["type"] == "Redundant" else c for c in ready.status["conditions"]]
    assert not decision.counts_only(back.status, {**ready.status, "conditions": flipped})
    finding = {"scope": "Zone", "name": "zone-a", "severity": "SPOF", "message": "all replicas in zone-a"}
    assert not decision.counts_only(back.status, {**ready.status, "singlePointsOfFailure": [finding]})
