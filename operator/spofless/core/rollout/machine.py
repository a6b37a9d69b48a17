"""Template changes, one zone at a time: the rollout state machine.

Pure: what is observed of each zone, the previous rollout status and the time go in; the revision
each zone's Deployment should carry, the new rollout status and its events come out.

Where the memory lives: each zone's Deployment says which revision it runs (an annotation on its pod
template, copied to every pod), so which zones are done, in progress or pending is read from the
cluster. The status keeps only what the cluster cannot show: when the zone in progress was started
and when it turned ready (the clocks of the deadline and the bake), the halt, and the last revision
every zone ran. A restarted or standby operator therefore resumes at the same zone: a zone is started
only when no zone is in progress, and a zone on the target revision is never started again.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta

from spofless.core.model import times
from spofless.core.model.events import Event
from spofless.core.model.spec import RolloutSpec
from spofless.core.model.status import Finding, RolloutStatus

Revision = str | None  # None: no Deployment yet, or one made before revisions existed


@dataclass(frozen=True)
class ZoneView:
    """One zone as the rollout sees it."""

    name: str
    exists: bool  # its Deployment exists
    revision: Revision  # the revision its Deployment's pod template carries
    desired: int  # replicas its Deployment is to have after this pass
    ready_nodes: int
    in_service: bool  # healthy, and not inside a failback window
    ready: Mapping[Revision, int] = field(default_factory=dict)  # ready pods by revision
    pods: Mapping[Revision, int] = field(default_factory=dict)  # pods not terminating, by revision
    failing: Mapping[Revision, int] = field(default_factory=dict)  # crash-looping pods by revision
    rolled_back_from: str | None = None  # the revision a halt took this zone back from (on its Deployment)

    @property
    def headroom(self) -> int:
        """Ready pods beyond what the zone is asked for."""
        return sum(self.ready.values()) - self.desired

    def complete(self, revision: str) -> bool:
        """All its pods run `revision` and are ready: the Deployment has finished rolling."""
        others = sum(n for r, n in self.pods.items() if r != revision)
        return self.ready.get(revision, 0) >= self.desired and others == 0


@dataclass(frozen=True)
class Step:
    revisions: dict[str, Revision]  # per zone: the revision its Deployment should carry; None: leave it alone
    status: RolloutStatus
    events: list[Event] = field(default_factory=list)
    wake_after: float | None = None  # seconds until the bake or the deadline ends
    rolled_back: dict[str, str] = field(default_factory=dict)  # zone -> the revision it was taken back from

    @property
    def halted(self) -> bool:
        return self.status.phase == "Halted"


def _updated(status: RolloutStatus, **changes: object) -> RolloutStatus:
    return status.model_copy(update=changes)


def order(zones: Sequence[ZoneView]) -> list[ZoneView]:
    """The order zones are rolled in: most healthy headroom first (ready pods beyond their share,
    then ready nodes), then by name, so every pass and every replica agrees."""
    return sorted(zones, key=lambda z: (-z.headroom, -z.ready_nodes, z.name))


@dataclass(frozen=True)
class Request:
    """What one move of the rollout is decided from.

    resume: the site's resume annotation; a value not acted on before restarts a halted rollout.
    floor_met: the site has at least spec.replicas - maxUnavailable ready pods; no zone starts otherwise.
    available: revisions whose template is known (from the zones' Deployments), for a rollback."""

    target: str  # the revision of spec.template
    spec: RolloutSpec
    zones: Sequence[ZoneView]
    prev: RolloutStatus | None  # the rollout as the last status left it
    resume: str | None = None
    floor_met: bool = True
    available: Collection[str] = ()


@dataclass(frozen=True)
class _Pass:
    """One step's request, its time and the last revision every zone ran."""

    request: Request
    now: datetime
    stable: Revision

    @property
    def target(self) -> str:
        return self.request.target

    @property
    def spec(self) -> RolloutSpec:
        return self.request.spec

    def can_roll_back(self) -> bool:
        return self.spec.auto_rollback and self.stable is not None and self.stable in self.request.available


def step(request: Request, now: datetime) -> Step:
    """The next move of the rollout of `request.target`."""
    target, zones, prev, resume = request.target, request.zones, request.prev, request.resume
    if not any(z.exists for z in zones) or not zones:  # a new site: every zone at once, not a rollout
        return Step({z.name: target for z in zones}, _complete(target, [z.name for z in zones], resume))
    fresh = prev is None or prev.target_revision != target
    # Every status records the annotation's value it saw, so only a value set after the halt resumes.
    resumed = not fresh and prev is not None and prev.phase == "Halted" and bool(resume) and resume != prev.resumed
    ctx = _Pass(request, now, _stable(zones, prev))
    # A halt is remembered twice: in the status, and on the rolled-back zone's Deployment, so a
    # halt whose status write was lost is still a halt.
    marked = next((z.name for z in zones if z.rolled_back_from == target), None)
    if not fresh and not resumed and prev is not None and (prev.phase == "Halted" or marked):
        if prev.phase != "Halted":
            prev = _updated(prev, phase="Halted", halted_zone=marked, halt_reason="RolledBack", message=(
                f"rollout of revision {target} halted in zone {marked}, which was rolled back"
            ))  # fmt: skip
        return _halted(ctx, _updated(prev, resumed=resume))
    base = RolloutStatus(target_revision=target, stable_revision=ctx.stable, phase="Progressing", resumed=resume)
    remembered = prev if prev is not None and not fresh and not resumed else None
    events = []
    if fresh and any(z.revision != target for z in zones):
        events.append(Event("Normal", "RolloutStarted", f"rolling out revision {target}, one zone at a time"))
    if resumed:
        events.append(Event("Normal", "RolloutResumed", f"rollout of revision {target} resumed"))
    return _advance(ctx, base, remembered, events)


def _stable(zones: Sequence[ZoneView], prev: RolloutStatus | None) -> Revision:
    """The last revision every zone ran; without a status, the revision most zones run."""
    if prev is not None:
        return prev.target_revision if prev.phase == "Complete" else prev.stable_revision
    counts = Counter(z.revision for z in zones if z.exists and z.revision is not None)
    return min(counts, key=lambda r: (-counts[r], r)) if counts else None


def _advance(ctx: _Pass, base: RolloutStatus, prev: RolloutStatus | None, events: list[Event]) -> Step:
    target, zones, now = ctx.target, ctx.request.zones, ctx.now
    # A zone without a Deployment has nothing to lose: it starts on the target at once.
    revisions: dict[str, Revision] = {z.name: z.revision if z.exists else target for z in zones}
    on_target = [z for z in zones if z.revision == target]
    tracked = prev.zone_in_progress if prev is not None else None
    done = [z.name for z in zones if not z.exists] + [
        z.name
        for z in on_target
        if (prev is not None and z.name in prev.zones_done) or (z.complete(target) and z.name != tracked)
    ]
    moving = [z for z in on_target if z.name not in done]
    moving.sort(key=lambda z: z.name != tracked)  # the zone the status remembers first
    pending = [z.name for z in order([z for z in zones if z.exists and z.revision != target])]
    status = _updated(base, zones_done=sorted(done), zones_pending=pending)
    # Normally one zone at most; more only when a status write was lost after a zone was started.
    for zone in moving:
        outcome = _watch(ctx, zone, status, prev if tracked == zone.name else None)
        if outcome.status.phase == "Halted":
            return _halt(ctx, outcome, zone.name, revisions, events)
        if outcome.status.phase != "Complete":
            return replace(outcome, revisions=revisions, events=events + outcome.events)
        done.append(zone.name)
        status = _updated(status, zones_done=sorted(done))
    if not pending:
        finished = bool(moving) or (prev is not None and prev.phase != "Complete")
        complete = _complete(target, [z.name for z in zones], status.resumed)
        done_event = Event("Normal", "RolloutComplete", f"revision {target} runs in every zone")
        return Step(revisions, complete, [*events, done_event] if finished else events)
    out_of_service = [z.name for z in zones if not z.in_service]
    if out_of_service or not ctx.request.floor_met:
        why = (
            f"zone(s) {', '.join(out_of_service)} out of service"
            if out_of_service
            else "fewer ready pods than spec.replicas - maxUnavailable"
        )
        return Step(revisions, _updated(status, phase="Waiting", message=f"next zone waits: {why}"), events)
    zone_name = pending[0]
    revisions[zone_name] = target
    where = f"zone {zone_name} ({len(status.zones_done) + 1} of {len(zones)})"
    events.append(Event("Normal", "RolloutZone", f"{where} gets revision {target}"))
    started = _updated(
        status,
        phase="Progressing",
        zone_in_progress=zone_name,
        zones_pending=pending[1:],
        started=now,
        message=f"{where} is getting revision {target}",
    )
    return Step(revisions, started, events, wake_after=float(ctx.spec.progress_deadline_seconds))


def _watch(ctx: _Pass, zone: ZoneView, status: RolloutStatus, prev: RolloutStatus | None) -> Step:
    """The zone in progress: still coming up, baking, done, or failed."""
    target, spec, now = ctx.target, ctx.spec, ctx.now
    started = prev.started if prev is not None else None
    ready_since = prev.ready_since if prev is not None else None
    current = _updated(status, zone_in_progress=zone.name, started=started or now)
    if not zone.in_service:  # an outage is no verdict on the template: the clocks start again after it
        waiting = _updated(current, phase="Waiting", started=now, message=f"zone {zone.name} is out of service")
        return Step({}, waiting)
    if zone.failing.get(target, 0):
        return Step({}, _updated(current, phase="Halted", halt_reason="PodsFailing", message=(
            f"{zone.failing[target]} new pod(s) in zone {zone.name} crash-loop or cannot start"
        )))  # fmt: skip
    ready = zone.ready.get(target, 0)
    if zone.complete(target):
        since = ready_since or now
        kept = min(prev.ready_at_bake or ready, zone.desired) if prev is not None and ready_since else ready
        baked = (now - since).total_seconds()
        if baked >= spec.bake_seconds:
            return Step({}, _updated(current, phase="Complete"))
        left = spec.bake_seconds - baked
        until = times.text(since + timedelta(seconds=spec.bake_seconds))
        return Step({}, _updated(
            current, phase="Baking", ready_since=since, ready_at_bake=kept,
            message=f"zone {zone.name} is ready on revision {target}; baking until {until}",
        ), wake_after=left)  # fmt: skip
    if ready_since is not None and prev is not None:
        if ready < min(prev.ready_at_bake or 0, zone.desired):
            return Step({}, _updated(current, phase="Halted", halt_reason="UnreadyDuringBake", message=(
                f"{ready} of {zone.desired} new pods in zone {zone.name} ready: a pod turned unready during the bake"
            )))  # fmt: skip
        # More replicas asked of the zone mid-bake (a failover elsewhere): the bake waits for them.
        current = _updated(current, started=now)
        started = now
    elapsed = (now - (started or now)).total_seconds()
    if elapsed >= spec.progress_deadline_seconds:
        return Step({}, _updated(current, phase="Halted", halt_reason="ProgressDeadlineExceeded", message=(
            f"{ready} of {zone.desired} new pods in zone {zone.name} ready after {spec.progress_deadline_seconds} s"
        )))  # fmt: skip
    left = spec.progress_deadline_seconds - elapsed
    return Step({}, _updated(
        current, phase="Progressing",
        message=f"zone {zone.name}: {ready} of {zone.desired} pods ready on revision {target}",
    ), wake_after=left)  # fmt: skip


def _halt(ctx: _Pass, outcome: Step, zone: str, revisions: dict[str, Revision], events: list[Event]) -> Step:
    status = _updated(outcome.status, halted_zone=zone, ready_since=None, ready_at_bake=None)
    message = f"rollout of revision {status.target_revision} halted in zone {zone}: {status.message}"
    events = [*events, Event("Warning", "RolloutHalted", message)]
    rolled_back = {}
    if ctx.can_roll_back():
        revisions[zone] = ctx.stable
        rolled_back[zone] = status.target_revision
        events.append(Event("Warning", "RolloutRolledBack", f"zone {zone} goes back to revision {ctx.stable}"))
        message += f"; zone {zone} rolled back to revision {ctx.stable}"
        status = _updated(status, zones_pending=[zone, *status.zones_pending], zone_in_progress=None)
    elif ctx.spec.auto_rollback:
        message += "; no zone runs an earlier revision to roll back to"
    message += f". Zones not reached keep their revision. Fix the template, or annotate the site with {_RESUME_HINT}"
    return Step(revisions, _updated(status, message=message), events, rolled_back=rolled_back)


_RESUME_HINT = "spofless.dev/resume-rollout=<any new value> to try again"


def _halted(ctx: _Pass, prev: RolloutStatus) -> Step:
    """A halted rollout stays halted until a new template or a resume: no zone is started."""
    zones = ctx.request.zones
    revisions: dict[str, Revision] = {z.name: z.revision for z in zones}
    failed = prev.halted_zone
    rolled_back = {}
    if failed in revisions and ctx.can_roll_back():
        revisions[failed] = ctx.stable  # kept there, even if something put the target back
        rolled_back[failed] = ctx.target
    done = sorted(z.name for z in zones if revisions[z.name] == ctx.target)
    pending = [z.name for z in order([z for z in zones if revisions[z.name] != ctx.target])]
    status = _updated(prev, zones_done=done, zones_pending=pending, zone_in_progress=None)
    return Step(revisions, status, rolled_back=rolled_back)


def _complete(target: str, zones: list[str], resume: str | None) -> RolloutStatus:
    return RolloutStatus(
        target_revision=target,
        stable_revision=target,
        phase="Complete",
        message=f"revision {target} runs in every zone",
        zones_done=sorted(zones),
        resumed=resume,
    )


def refusal_status(target: str, prev: RolloutStatus | None, zone: str, message: str) -> RolloutStatus:
    """The API server refused the target template: a halt; nothing of it was written anywhere."""
    return RolloutStatus(
        target_revision=target,
        stable_revision=_stable((), prev),
        phase="Halted",
        halted_zone=zone,
        halt_reason="TemplateRefused",
        message=f"the API server refused revision {target}: {message}. No zone got it; fix the template",
        zones_pending=[zone],
        resumed=prev.resumed if prev is not None else None,
    )


def findings(status: RolloutStatus | None, zones: Sequence[ZoneView], min_zones: int) -> list[Finding]:
    """A halted rollout is no single point of failure by itself; one zone left on a working revision is."""
    if status is None or status.phase != "Halted" or min_zones < 2:
        return []
    serving = [z.name for z in zones if sum(z.ready.values()) > 0]
    working = sorted(z.name for z in zones if any(n > 0 for r, n in z.ready.items() if r != status.target_revision))
    if len(working) != 1 or len(serving) < 2:  # one serving zone is already a Zone finding
        return []
    return [
        Finding(
            scope="Rollout",
            name=working[0],
            message=f"only zone {working[0]} still runs a working revision while revision "
            f"{status.target_revision} is {status.phase.lower()}",
        )
    ]
