"""The zone-by-zone rollout state machine, driven through a small simulated cluster."""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from spofless.core.model.spec import RolloutSpec
from spofless.core.model.status import RolloutStatus
from spofless.core.rollout.machine import Request, Step, ZoneView, findings, order, refusal_status, step

from .builders import T0

SPEC = RolloutSpec(bake_seconds=30, progress_deadline_seconds=120)


@dataclass
class Zone:
    """A zone's Deployment as the cluster runs it: a surge-only rollout (maxUnavailable 0)."""

    name: str
    revision: str | None = "v1"
    desired: int = 2
    ready: dict[str | None, int] = field(default_factory=lambda: {"v1": 2})
    unready: dict[str | None, int] = field(default_factory=dict)
    failing: int = 0
    in_service: bool = True
    ready_nodes: int = 3
    rolled_back_from: str | None = None

    def view(self) -> ZoneView:
        pods = {r: self.ready.get(r, 0) + self.unready.get(r, 0) for r in {*self.ready, *self.unready}}
        return ZoneView(
            name=self.name,
            exists=self.revision is not None or bool(pods),
            revision=self.revision,
            desired=self.desired,
            ready_nodes=self.ready_nodes,
            in_service=self.in_service,
            ready={r: n for r, n in self.ready.items() if n},
            pods={r: n for r, n in pods.items() if n},
            failing={self.revision: self.failing} if self.failing else {},
            rolled_back_from=self.rolled_back_from,
        )

    def settle(self, bad: set[str]) -> None:
        """The Deployment controller and the kubelets catch up with the Deployment's revision."""
        if self.revision in bad:  # one surge pod that never turns ready; the old pods keep serving
            self.unready = {self.revision: 1}
        else:
            self.ready = {self.revision: self.desired}
            self.unready = {}


@dataclass
class Cluster:
    zones: list[Zone]
    bad: set[str] = field(default_factory=set)
    status: RolloutStatus | None = None
    now: datetime = T0
    history: list[Step] = field(default_factory=list)

    def views(self) -> list[ZoneView]:
        return [z.view() for z in self.zones]

    def available(self) -> set[str]:
        return {z.revision for z in self.zones if z.revision is not None}

    def pass_(self, target: str, *, write_status: bool = True, settle: bool = True, resume: str | None = None) -> Step:
        request = Request(target, SPEC, self.views(), self.status, resume=resume, available=self.available())
        result = step(request, self.now)
        for zone in self.zones:
            if result.revisions[zone.name] is not None:
                zone.revision = result.revisions[zone.name]
                zone.rolled_back_from = result.rolled_back.get(zone.name)
        if write_status:
            self.status = result.status
        if settle:
            for zone in self.zones:
                zone.settle(self.bad)
        self.history.append(result)
        return result

    def run(self, target: str, seconds: float, every: float = 5, resume: str | None = None) -> None:
        end = self.now + timedelta(seconds=seconds)
        while self.now < end:
            self.pass_(target, resume=resume)
            self.now += timedelta(seconds=every)

    def in_progress(self, target: str) -> list[str]:
        return [z.name for z in self.zones if z.revision == target and not z.view().complete(target)]


def three() -> Cluster:
    return Cluster([Zone("zone-a"), Zone("zone-b"), Zone("zone-c")])


def reasons(cluster: Cluster) -> list[str]:
    return [e.reason for s in cluster.history for e in s.events]


def test_a_new_site_gets_the_template_everywhere_at_once() -> None:
    zones = [ZoneView(name=z, exists=False, revision=None, desired=2, ready_nodes=3, in_service=True) for z in "abc"]
    result = step(Request("v1", SPEC, zones, None), T0)
    assert result.revisions == {"a": "v1", "b": "v1", "c": "v1"}
    assert result.status.phase == "Complete" and result.events == []


def test_nothing_changes_when_every_zone_runs_the_target() -> None:
    cluster = three()
    cluster.run("v1", 60)
    assert reasons(cluster) == []
    assert cluster.status is not None and cluster.status.phase == "Complete"


def test_a_good_template_goes_one_zone_at_a_time_and_waits_for_the_bake() -> None:
    cluster = three()
    started: dict[str, datetime] = {}
    while cluster.now < T0 + timedelta(seconds=600):
        cluster.pass_("v2")
        assert len(cluster.in_progress("v2")) <= 1
        for zone in cluster.zones:
            if zone.revision == "v2":
                started.setdefault(zone.name, cluster.now)
        cluster.now += timedelta(seconds=5)
        if cluster.status is not None and cluster.status.phase == "Complete":
            break
    assert cluster.status is not None and cluster.status.phase == "Complete"
    assert cluster.status.stable_revision == "v2"
    times = sorted(started.values())
    assert len(times) == 3
    assert all((b - a).total_seconds() >= SPEC.bake_seconds for a, b in itertools.pairwise(times))
    assert reasons(cluster).count("RolloutZone") == 3
    assert reasons(cluster)[0] == "RolloutStarted" and reasons(cluster)[-1] == "RolloutComplete"


def test_the_zone_with_the_most_headroom_goes_first() -> None:
    cluster = Cluster([Zone("zone-a", ready_nodes=1), Zone("zone-b", ready_nodes=3), Zone("zone-c", ready_nodes=2)])
    cluster.zones[2].ready = {"v1": 3}  # one pod more than it is asked for
    assert [z.name for z in order(cluster.views())] == ["zone-c", "zone-b", "zone-a"]
    first = cluster.pass_("v2", settle=False)
    assert first.status.zone_in_progress == "zone-c"


def test_a_bad_template_halts_in_the_first_zone_and_rolls_it_back() -> None:
    cluster = three()
    cluster.bad = {"v2"}
    cluster.run("v2", SPEC.progress_deadline_seconds + 30)
    status = cluster.status
    assert status is not None and status.phase == "Halted"
    assert status.halt_reason == "ProgressDeadlineExceeded" and status.halted_zone == "zone-a"
    assert [z.revision for z in cluster.zones] == ["v1", "v1", "v1"]  # rolled back; the others never touched
    assert [r for r in reasons(cluster) if r.startswith("Rollout")] == [
        "RolloutStarted",
        "RolloutZone",
        "RolloutHalted",
        "RolloutRolledBack",
    ]
    assert "zone-a" in status.zones_pending and status.zones_done == []
    # It stays halted: no zone starts again, however long it waits.
    cluster.run("v2", 600)
    assert [z.revision for z in cluster.zones] == ["v1", "v1", "v1"]
    assert reasons(cluster).count("RolloutZone") == 1


def test_without_auto_rollback_the_failed_zone_stays_on_the_new_revision() -> None:
    cluster = three()
    cluster.bad = {"v2"}
    global SPEC
    saved, SPEC = SPEC, SPEC.model_copy(update={"auto_rollback": False})
    try:
        cluster.run("v2", 200)
    finally:
        SPEC = saved
    assert [z.revision for z in cluster.zones] == ["v2", "v1", "v1"]
    assert cluster.zones[0].ready == {"v1": 2}  # its old pods still serve (surge-only rollout)


def test_a_new_template_after_a_halt_starts_a_new_rollout() -> None:
    cluster = three()
    cluster.bad = {"v2"}
    cluster.run("v2", 200)
    cluster.run("v3", 600)
    assert cluster.status is not None and cluster.status.phase == "Complete"
    assert [z.revision for z in cluster.zones] == ["v3", "v3", "v3"]


def test_the_resume_annotation_tries_again_once_per_new_value() -> None:
    cluster = three()
    cluster.bad = {"v2"}
    cluster.run("v2", 200, resume="old")  # a value set before the halt is no request to resume
    assert cluster.status is not None and cluster.status.phase == "Halted"
    cluster.bad = set()  # say a missing secret was created meanwhile
    cluster.pass_("v2", resume="old")
    assert cluster.status.phase == "Halted"
    resumed = cluster.pass_("v2", resume="now")
    assert resumed.status.phase == "Progressing"
    assert "RolloutResumed" in reasons(cluster)


def test_pods_that_crash_loop_halt_at_once() -> None:
    cluster = three()
    cluster.pass_("v2", settle=False)
    cluster.zones[0].failing = 1
    cluster.now += timedelta(seconds=5)
    result = cluster.pass_("v2", settle=False)
    assert result.halted and result.status.halt_reason == "PodsFailing"
    assert cluster.zones[0].revision == "v1"


def test_a_pod_turning_unready_during_the_bake_halts() -> None:
    cluster = three()
    cluster.run("v2", 10)
    assert cluster.status is not None and cluster.status.phase == "Baking"
    zone = cluster.zones[0]
    zone.ready = {"v2": 1}
    zone.unready = {"v2": 1}
    result = cluster.pass_("v2", settle=False)
    assert result.status.halt_reason == "UnreadyDuringBake"


def test_more_replicas_asked_mid_bake_make_the_bake_wait_not_halt() -> None:
    cluster = three()
    cluster.run("v2", 10)
    zone = cluster.zones[0]
    zone.desired = 3
    zone.unready = {"v2": 1}
    result = cluster.pass_("v2", settle=False)
    assert result.status.phase == "Progressing"


def test_a_lost_zone_pauses_the_rollout_and_the_deadline() -> None:
    cluster = three()
    cluster.pass_("v2", settle=False)
    cluster.zones[0].in_service = False
    for _ in range(60):  # far past the deadline
        cluster.now += timedelta(seconds=5)
        result = cluster.pass_("v2", settle=False)
        assert result.status.phase == "Waiting"
    cluster.zones[0].in_service = True
    cluster.run("v2", 300)
    assert cluster.status is not None and cluster.status.phase == "Complete"


def test_no_zone_starts_while_another_zone_is_out_of_service_or_the_site_is_short() -> None:
    cluster = three()
    cluster.zones[2].in_service = False
    result = cluster.pass_("v2", settle=False)
    assert result.status.phase == "Waiting" and all(z.revision == "v1" for z in cluster.zones)
    cluster.zones[2].in_service = True
    short = step(Request("v2", SPEC, cluster.views(), cluster.status, floor_met=False), T0)
    assert short.status.phase == "Waiting" and "maxUnavailable" in short.status.message


def test_a_refused_template_is_a_halt_that_names_it() -> None:
    status = refusal_status("v2", RolloutStatus(target_revision="v1", phase="Complete"), "zone-a", "spec.x: Invalid")
    assert (status.phase, status.stable_revision, status.halt_reason) == ("Halted", "v1", "TemplateRefused")
    cluster = three()
    cluster.status = status
    cluster.run("v2", 60)
    assert [z.revision for z in cluster.zones] == ["v1", "v1", "v1"]


def test_one_zone_left_on_a_working_revision_is_a_rollout_finding() -> None:
    halted = RolloutStatus(target_revision="v2", phase="Halted", stable_revision="v1")
    zones = [
        ZoneView("a", True, "v2", 2, 3, True, ready={"v2": 1}),
        ZoneView("b", True, "v1", 2, 3, True, ready={"v1": 2}),
    ]
    assert [f.scope for f in findings(halted, zones, 2)] == ["Rollout"]
    zones[0] = ZoneView("a", True, "v1", 2, 3, True, ready={"v1": 2})
    assert findings(halted, zones, 2) == []
    assert findings(RolloutStatus(target_revision="v2", phase="Progressing"), zones, 2) == []


# --- properties ---------------------------------------------------------------------------------

passes = st.lists(
    st.tuples(
        st.integers(min_value=1, max_value=40),  # seconds to the next pass
        st.booleans(),  # the status write of this pass is lost (the operator died after applying)
        st.booleans(),  # the cluster catches up before the next pass
    ),
    min_size=1,
    max_size=80,
)


@settings(max_examples=300, deadline=None)
@given(plan=passes, zones=st.integers(min_value=1, max_value=4), bad=st.booleans())
def test_at_most_one_zone_is_mid_rollout_and_no_zone_is_rolled_twice(
    plan: list[tuple[int, bool, bool]], zones: int, bad: bool
) -> None:
    cluster = Cluster([Zone(f"zone-{i}") for i in range(zones)], bad={"v2"} if bad else set())
    got_target: dict[str, int] = {}
    before = {z.name: z.revision for z in cluster.zones}
    for seconds, lost, settle in plan:
        cluster.pass_("v2", write_status=not lost, settle=settle)
        for zone in cluster.zones:
            if zone.revision == "v2" and before[zone.name] != "v2":
                got_target[zone.name] = got_target.get(zone.name, 0) + 1
            before[zone.name] = zone.revision
        assert len(cluster.in_progress("v2")) <= 1
        cluster.now += timedelta(seconds=seconds)
    # A zone gets the target once; only a halt followed by a rollback can give it back (never, here:
    # nothing resumes), so no count is above one.
    assert all(n == 1 for n in got_target.values()), got_target
    if bad:
        assert "zone-1" not in got_target  # a bad template never gets past the first zone


@settings(max_examples=200, deadline=None)
@given(plan=passes, zones=st.integers(min_value=1, max_value=4))
def test_a_good_template_always_finishes(plan: list[tuple[int, bool, bool]], zones: int) -> None:
    cluster = Cluster([Zone(f"zone-{i}") for i in range(zones)])
    unsettled = 0
    for seconds, lost, settle in plan:
        # The cluster is slow at times, but never slower than the progress deadline.
        catch_up = settle or unsettled + seconds >= SPEC.progress_deadline_seconds - 40
        cluster.pass_("v2", write_status=not lost, settle=catch_up)
        unsettled = 0 if catch_up else unsettled + seconds
        cluster.now += timedelta(seconds=seconds)
    cluster.run("v2", (SPEC.bake_seconds + 10) * (zones + 1))
    assert all(z.revision == "v2" for z in cluster.zones)
    assert cluster.status is not None and cluster.status.phase == "Complete"
    assert not [e for s in cluster.history for e in s.events if e.reason == "RolloutHalted"]
