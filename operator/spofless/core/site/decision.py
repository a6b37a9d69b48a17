"""The one decision the operator makes about a site: what to apply, what to report, what to announce.

Pure: the site, what is observed and the time go in; manifests, a status and events come out.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from pydantic import ValidationError

from spofless.core.judgement import dependencies, findings, headroom, shortfall
from spofless.core.model import names, reading
from spofless.core.model.events import Event
from spofless.core.model.spec import ResilientSiteSpec
from spofless.core.model.status import Cause, Condition, Finding, Phase, ResilientSiteStatus, ZoneStatus
from spofless.core.observed import quantity
from spofless.core.observed.records import Observed
from spofless.core.placement import scale, split, traffic, triggers, zones
from spofless.core.rollout import machine
from spofless.core.rollout import templates as rollout
from spofless.core.site import capacity, owned


@dataclass(frozen=True)
class Site:
    """The ResilientSite object, as the decision needs it."""

    name: str
    namespace: str
    uid: str
    generation: int
    spec: dict[str, Any]
    status: dict[str, Any]
    annotations: dict[str, str] = field(default_factory=dict)

    @property
    def owner(self) -> owned.Owner:
        return owned.Owner(name=self.name, namespace=self.namespace, uid=self.uid)


@dataclass(frozen=True)
class Decision:
    status: dict[str, Any]
    apply: list[owned.Manifest] = field(default_factory=list)
    delete: list[tuple[str, str]] = field(default_factory=list)  # (kind, name) of children no longer wanted
    events: list[Event] = field(default_factory=list)
    wake_after: float | None = None  # seconds until a timed step (a failback window ending, a bake) is due
    scale: dict[str, int] = field(default_factory=dict)  # Deployment -> replicas, written without its template


def progress_only(old: dict[str, Any], new: dict[str, Any]) -> bool:
    """True when a new status only reports the progress of a site's first rollout (ready counts,
    findings settling while its children appear): such a status may wait a moment to be written,
    folded with the next one. Every other change is news to write at once."""
    return old.get("phase") == new.get("phase") == "Pending" and old.get("observedGeneration") == new.get(
        "observedGeneration"
    )


def previous_status(raw: Any) -> tuple[ResilientSiteStatus, list[Finding]]:
    """The status written last time, read field by field (`model.reading`): an unknown field is
    skipped, an unreadable one dropped with a Warning finding, and the rest, the site's memory, stands."""
    kept = {k: v for k, v in raw.items() if k != "kopf"} if isinstance(raw, dict) else raw
    status, problems = reading.read(ResilientSiteStatus, kept)
    warnings = [
        Finding(scope="Status", name=p.partition(":")[0], severity="Warning", message=f"{p}: it is written anew")
        for p in problems
    ]
    return status or ResilientSiteStatus(), warnings


def set_condition(
    conditions: list[Condition], kind: str, ok: bool, reason: str, message: str, now: datetime, generation: int
) -> list[Condition]:
    """The conditions with one replaced; its transition time moves only when its status does."""
    status: Literal["True", "False"] = "True" if ok else "False"
    old = next((c for c in conditions if c.type == kind), None)
    since = old.last_transition_time if old is not None and old.status == status else now
    new = Condition(
        type=kind,
        status=status,
        reason=reason,
        message=message,
        last_transition_time=since,
        observed_generation=generation,
    )
    return [c for c in conditions if c.type != kind] + [new]


@dataclass(frozen=True)
class ApplyFailure:
    """Why carrying out the last decision did not go through. The shell reports it and asks again;
    the core decides what the status then says."""

    reason: Literal["ApplyRefused", "ApplyFailed"]  # refused: the spec's fault; failed: the API's
    message: str
    kind: str = ""  # the kind of the object refused


def decide(site: Site, observed: Observed, now: datetime, failure: ApplyFailure | None = None) -> Decision:
    """What to apply, report and announce for one site.

    Whatever is wrong with the spec, the status reports what is observed (ready counts, zones,
    findings, what-if); only the children are left alone.
    """
    prev, unreadable = previous_status(site.status)
    try:
        spec = ResilientSiteSpec.model_validate(site.spec)
    except ValidationError as err:
        return _unreadable(site, prev, _validation_message(err), now, unreadable=unreadable)
    deployed = [c.zone for c in observed.children if c.kind == "Deployment" and c.zone]
    was_gone = {z.name: z.gone_since for z in prev.zones if z.gone_since is not None}
    # A zone spec.zones lists is never forgotten: without nodes, it is lost.
    known = zones.known(
        prev.known_zones, deployed, {z: t for z, t in was_gone.items() if z not in (spec.zones or ())}, now
    )
    zone_set = zones.resolve(spec.zones, spec.topology_key, observed.nodes, known)
    gone = zones.gone_since(zone_set, was_gone, now)
    problem = _spec_problem(spec, zone_set, observed)
    if problem is not None and problem[0] == "NoZones":
        # Zones seen through a key no node carries would all look lost: report the last zones seen.
        return _unreadable(site, prev, problem[1], now, reason="NoZones", unreadable=unreadable)
    # A refused template is a halted rollout, not a frozen site: every zone keeps the template it
    # runs, and replicas still move. Other refusals (a Service, a budget) hold everything.
    refused_template = (
        failure is not None and failure.reason == "ApplyRefused" and failure.kind == "Deployment"
        and any(c.kind == "Deployment" for c in observed.children)
    )  # fmt: skip
    if problem is None and failure is not None and failure.reason == "ApplyRefused" and not refused_template:
        problem = (failure.reason, failure.message)

    current = _current_replicas(site, zone_set, observed)
    ready = findings.readiness(observed, list(zone_set.expected))
    total = scale.replicas(spec)
    triggered = triggers.assess(spec, zone_set, observed.pods, ready.per_zone, {z.name: z for z in prev.zones}, now)
    zone_times = _zone_times(zone_set, triggered.causes, prev, now)
    window = spec.failover.failback_after_seconds
    # Zones back for less than the failback window still count as out of service: no flapping.
    failback_left = {
        z: window - (now - t).total_seconds()
        for z, t in zone_times.items()
        if t is not None and z not in triggered.causes and (now - t).total_seconds() < window
    }
    out_of_service = [*triggered.causes, *failback_left]
    key = f"{site.namespace}/{site.name}"
    cpu, memory = quantity.pod_requests(spec.template.get("spec") or {})
    zone_nodes = headroom.by_zone(observed.nodes, spec.topology_key) if headroom.known(observed.nodes) else {}
    room = headroom.room(zone_nodes, observed.usage, cpu, memory) if zone_nodes else None
    if problem is None:
        plan = split.place(
            total=total,
            zones=zone_set.expected,
            out_of_service=out_of_service,
            current=current,
            ready=ready.per_zone,
            failover=spec.failover.enabled,
            key=key,
            room=room,
        )
        plan = triggers.drain(plan, triggered.evacuating, ready.per_zone, total)
    else:
        plan = split.hold(total, zone_set.expected, current, key)
    mode = traffic.mode(
        spec.service.traffic_distribution,
        triggered.causes,
        list(failback_left),
        plan.base,
        plan.desired,
        ready.per_zone,
    )
    # Nothing moves without failover: then there is no what-if of room to make.
    moving = out_of_service if spec.failover.enabled else list(zone_set.expected)
    request = headroom.SiteRequest(key, plan.base, plan.desired, moving, cpu, memory)
    verdicts = headroom.what_if(request, zone_set.expected, zone_nodes, observed.usage) if zone_nodes else {}
    # Pending pods of a lost or evacuated zone wait for their zone; those of a full zone are short.
    waiting = [z for z, c in triggered.causes.items() if c != "ZoneFull"]
    shorts = shortfall.shortfalls(observed.pods, waiting)
    status = _status(site, spec, prev, zone_set, zone_times, plan, ready, observed, now, verdicts, shorts)
    status.known_zones = zones.remembered(zone_set, known)
    for entry in status.zones:
        entry.gone_since = gone.get(entry.name)
    status.single_points_of_failure += unreadable
    for kind, ok, reason, message in capacity.annotate(
        status, site.name, spec, triggered, list(failback_left), plan, mode
    ):
        status.conditions = (
            [c for c in status.conditions if c.type != kind]
            if ok is None
            else set_condition(status.conditions, kind, ok, reason, message, now, site.generation)
        )
    events = _events(prev, status, plan, current, zone_set) + _capacity_events(prev, status)
    events += capacity.events(prev, status, triggered)
    if problem is not None:
        return _invalid(site, prev, status, events, *problem, now)
    refusal = failure.message if refused_template and failure is not None else None
    in_service = [z for z in zone_set.expected if z not in triggered.causes and z not in failback_left]
    ready_nodes = {z: zone_set.health[z].ready_nodes for z in zone_set.expected}
    templates = rollout.plan(
        site.name, spec, zone_set.expected, plan.desired, ready_nodes, in_service, observed, ready.total,
        prev.rollout, site.annotations.get(names.ANNOTATION_RESUME), now, refused=refusal,
    )  # fmt: skip
    _report_rollout(status, spec, templates.step, zone_set, observed, now, site.generation)
    reconciled = ("Applied", "children match the spec") if failure is None else (failure.reason, failure.message)
    if templates.step.status.halt_reason == "TemplateRefused":  # the spec cannot be wanted_zones_ready out until fixed
        reconciled = ("ApplyRefused", templates.step.status.message)
        status.phase, status.message = "Invalid", templates.step.status.message
        events = [e for e in events if e.reason != "Redundant"] + _warn_once(prev, *reconciled)
    ok = failure is None and reconciled[0] == "Applied"
    status.conditions = set_condition(status.conditions, "Reconciled", ok, *reconciled, now, site.generation)
    # No voluntary disruption while a zone is being rolled out: its new pods are on trial.
    rolling = templates.step.status.phase in ("Progressing", "Baking")
    have_service = next((c.body for c in observed.children if c.kind == "Service" and c.name == site.name), None)
    manifests = owned.children(
        site.owner, spec, plan.desired, mode.value if mode else None, traffic.to_lift(mode, have_service),
        sources=templates.sources, rolled_back=templates.step.rolled_back, scale_only=templates.scale_only,
        budget=0 if rolling else None,
    )  # fmt: skip
    wanted = {(m["kind"], m["metadata"]["name"]) for m in manifests}
    # A zone whose Deployment is only scaled (its template unknown) still wants that Deployment.
    wanted |= {("Deployment", names.child_name(site.name, z)) for z in zone_set.expected}
    stale = [(c.kind, c.name) for c in observed.children if (c.kind, c.name) not in wanted and not c.terminating]
    # Deployments of a zone no longer wanted go only once the wanted zones carry the full spec.
    # Other stale children go at once: a pod two budgets cover cannot be evicted at all.
    wanted_zones_ready = sum(ready.per_zone[z] for z in zone_set.expected) >= spec.replicas
    delete = [(kind, name) for kind, name in stale if wanted_zones_ready or kind != "Deployment"]
    events += templates.step.events
    wakes = [*failback_left.values(), *([triggered.wake_after] if triggered.wake_after is not None else [])]
    wakes += [templates.step.wake_after] if templates.step.wake_after is not None else []
    return Decision(
        status=status.wire(),
        apply=manifests,
        delete=delete,
        events=events,
        wake_after=min(wakes) if wakes else None,
        scale=_scale_only(site, templates.scale_only, plan.desired, current),
    )


def _report_rollout(
    status: ResilientSiteStatus,
    spec: ResilientSiteSpec,
    step: machine.Step,
    zone_set: zones.ZoneSet,
    observed: Observed,
    now: datetime,
    generation: int,
) -> None:
    """The rollout section, the RolloutHalted condition, and a Rollout finding when one zone is left."""
    status.rollout = step.status
    halted = step.halted
    reason = step.status.halt_reason or "Halted" if halted else "NotHalted"
    message = step.status.message if halted else f"rollout {step.status.phase.lower()}: {step.status.message}"
    status.conditions = set_condition(status.conditions, "RolloutHalted", halted, reason, message, now, generation)
    views = rollout.views(observed, zone_set.expected, {}, (), {z: 0 for z in zone_set.expected}, {}, ())
    found = machine.findings(step.status, views, spec.min_zones)
    if found:
        status.single_points_of_failure = [*found, *status.single_points_of_failure]
        status.spof = True


def _scale_only(
    site: Site, scale_only: frozenset[str], desired_replicas: dict[str, int], current: dict[str, int | None]
) -> dict[str, int]:
    """Replicas of zones whose template spofless leaves alone, written through the scale subresource."""
    return {
        names.child_name(site.name, z): desired_replicas[z]
        for z in sorted(scale_only)
        if current.get(z) is not None and current[z] != desired_replicas[z]
    }


def _spec_problem(spec: ResilientSiteSpec, zone_set: zones.ZoneSet, observed: Observed) -> tuple[str, str] | None:
    """(reason, message) when the spec cannot be wanted_zones_ready out on this cluster, else None."""
    if zone_set.unknown:
        listed = ", ".join(zone_set.unknown)
        return "UnknownZone", (
            f"zone(s) {listed} in spec.zones have no node labelled {spec.topology_key}; nothing was changed"
        )
    unlabelled = bool(observed.nodes) and not any(n.zone(spec.topology_key) for n in observed.nodes)
    if unlabelled or not zone_set.expected:  # nodes exist but none is in a zone: a wrong key, not an outage
        return "NoZones", f"no node carries the label {spec.topology_key}, so no zone can be found; nothing was changed"
    return None


def _invalid(
    site: Site,
    prev: ResilientSiteStatus,
    status: ResilientSiteStatus,
    events: list[Event],
    reason: str,
    message: str,
    now: datetime,
) -> Decision:
    """Phase Invalid and Reconciled=False; nothing is applied or deleted, running pods are untouched.
    Zones still announce their loss and return; the rest waits until the spec can be wanted_zones_ready out."""
    status.phase = "Invalid"
    status.message = message
    status.conditions = set_condition(status.conditions, "Reconciled", False, reason, message, now, site.generation)
    zone_events = [e for e in events if e.reason in ("ZoneLost", "ZoneRecovered")]
    return Decision(status=status.wire(), events=[*zone_events, *_warn_once(prev, reason, message)])


def _unreadable(
    site: Site,
    prev: ResilientSiteStatus,
    message: str,
    now: datetime,
    reason: str = "InvalidSpec",
    unreadable: list[Finding] | None = None,
) -> Decision:
    """A spec that gives no zones to look at (unreadable, or a topology key no node carries): the last
    status, marked Invalid."""
    status = prev.model_copy(deep=True)
    status.observed_generation = site.generation
    status.single_points_of_failure = [
        *(f for f in status.single_points_of_failure if f.scope != "Status"),
        *(unreadable or []),
    ]
    return _invalid(site, prev, status, [], reason, message, now)


def _warn_once(prev: ResilientSiteStatus, reason: str, message: str) -> list[Event]:
    """A Warning event, unless the status already says the same."""
    was = next((c for c in prev.conditions if c.type == "Reconciled"), None)
    if was is not None and was.status == "False" and was.message == message:
        return []
    return [Event("Warning", reason, message)]


def _validation_message(err: ValidationError) -> str:
    parts = [f"spec.{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in err.errors()[:3]]
    return "; ".join(parts)


def _zone_times(
    zone_set: zones.ZoneSet, causes: dict[str, Cause], prev: ResilientSiteStatus, now: datetime
) -> dict[str, datetime | None]:
    """When each zone last went out of service (lost, full, evacuated) or back in; None for a zone
    in service since first seen."""
    before = {z.name: z for z in prev.zones}
    out: dict[str, datetime | None] = {}
    for zone in zone_set.expected:
        healthy = zone not in causes
        old = before.get(zone)
        if old is None:
            out[zone] = None if healthy else now
        elif (old.healthy and old.cause is None) != healthy:  # an older status has no cause: lost = unhealthy
            out[zone] = now
        else:
            out[zone] = old.since
    return out


def _current_replicas(site: Site, zone_set: zones.ZoneSet, observed: Observed) -> dict[str, int | None]:
    by_name = {c.name: c for c in observed.children if c.kind == "Deployment"}
    out: dict[str, int | None] = {}
    for zone in zone_set.expected:
        child = by_name.get(names.child_name(site.name, zone))
        out[zone] = child.replicas if child is not None else None
    return out


def _status(
    site: Site,
    spec: ResilientSiteSpec,
    prev: ResilientSiteStatus,
    zone_set: zones.ZoneSet,
    zone_times: dict[str, datetime | None],
    plan: split.Placement,
    ready: findings.Readiness,
    observed: Observed,
    now: datetime,
    verdicts: dict[str, headroom.Verdict],
    shorts: list[shortfall.Short],
) -> ResilientSiteStatus:
    deps = _dependencies(site, spec, zone_set, observed)
    found = findings.findings(spec, zone_set, ready, observed, site.name)
    found += [
        Finding(scope="Capacity", name=v.zone, severity="Warning", message=v.message)
        for v in verdicts.values()
        if not v.absorbable
    ] + shortfall.findings(shorts)
    found = _with_dependencies(found, deps)
    spof = any(f.severity == "SPOF" for f in found)
    lost = list(zone_set.lost)
    phase, message = _phase(spec, prev, spof, found, lost, ready, zone_set)
    status = ResilientSiteStatus(
        observed_generation=site.generation,
        phase=phase,
        spof=spof,
        message=message,
        replicas=sum(plan.desired.values()),
        ready_replicas=ready.total,
        ready_zones=len(ready.zones),
        zones=[
            ZoneStatus(
                name=z,
                deployment=names.child_name(site.name, z),
                desired_replicas=plan.desired[z],
                ready_replicas=ready.per_zone.get(z, 0),
                nodes=zone_set.health[z].nodes,
                ready_nodes=zone_set.health[z].ready_nodes,
                healthy=zone_set.health[z].healthy,
                since=zone_times[z],
            )
            for z in zone_set.expected
        ],
        known_zones=zones.remembered(zone_set, prev.known_zones),
        single_points_of_failure=found,
        zone_loss=dependencies.zone_loss(
            findings.zone_loss(spec, dependencies.what_if_zones(zone_set.expected, deps), ready, verdicts),
            deps,
            len(zone_set.expected) > 1,
        ),
        dependencies=dependencies.statuses(deps),
        conditions=[c for c in prev.conditions if deps or c.type != "DependenciesReady"],
    )
    if deps:
        status.conditions = set_condition(
            status.conditions, "DependenciesReady", *dependencies.condition(deps), now, site.generation
        )
    gen = site.generation
    all_ready = ready.total >= spec.replicas
    status.conditions = set_condition(
        status.conditions, "Ready", all_ready, "AllReplicasReady" if all_ready else "ReplicasNotReady",
        f"{ready.total} of {spec.replicas} replicas ready", now, gen,
    )  # fmt: skip
    first = next((f for f in found if f.severity == "SPOF"), None)
    status.conditions = set_condition(
        status.conditions, "Redundant", not spof, "SinglePointOfFailure" if first else "NoSinglePointOfFailure",
        first.message if first else f"losing any one zone leaves at least {_worst_left(status)} ready replicas", now, gen,
    )  # fmt: skip
    status.conditions = set_condition(
        status.conditions, "FailoverActive", plan.failover_active, "ZoneLost" if plan.failover_active else "EvenSpread",
        _failover_message(lost, plan.moved) if plan.failover_active else "replicas are spread evenly over the zones", now, gen,
    )  # fmt: skip
    status.conditions = set_condition(
        status.conditions, "CapacityShort", bool(shorts), "Unschedulable" if shorts else "AllScheduled",
        shortfall.condition_message(shorts), now, gen,
    )  # fmt: skip
    return status


def _capacity_events(prev: ResilientSiteStatus, new: ResilientSiteStatus) -> list[Event]:
    """CapacityShort when replicas start waiting for room, CapacityRestored when none waits any more."""
    was = next((c for c in prev.conditions if c.type == "CapacityShort"), None)
    now = next(c for c in new.conditions if c.type == "CapacityShort")
    if now.status == "True" and (was is None or was.status != "True"):
        return [Event("Warning", "CapacityShort", now.message)]
    if now.status == "False" and was is not None and was.status == "True":
        return [Event("Normal", "CapacityRestored", "every replica is scheduled again")]
    return []


def _dependencies(
    site: Site, spec: ResilientSiteSpec, zone_set: zones.ZoneSet, observed: Observed
) -> list[dependencies.DependencyReport]:
    multi_zone = len(zone_set.expected) > 1
    return dependencies.resolve(
        site.namespace, spec.depends_on, observed.dependencies, observed.nodes, spec.topology_key, multi_zone
    )


def _with_dependencies(found: list[Finding], deps: list[dependencies.DependencyReport]) -> list[Finding]:
    """The site's findings and its dependencies', single points of failure first."""
    return sorted([*found, *dependencies.findings(deps)], key=lambda f: f.severity != "SPOF")


def _worst_left(status: ResilientSiteStatus) -> int:
    return min((z.ready_replicas_left for z in status.zone_loss), default=0)


def _failover_message(lost: list[str], moved: dict[str, int]) -> str:
    where = ", ".join(f"{z} {n:+d}" for z, n in sorted(moved.items()))
    return f"zone(s) {', '.join(lost) or '(recovering)'} out of service; replicas moved: {where}"


def _phase(
    spec: ResilientSiteSpec,
    prev: ResilientSiteStatus,
    spof: bool,
    found: list[Finding],
    lost: list[str],
    ready: findings.Readiness,
    zone_set: zones.ZoneSet,
) -> tuple[Phase, str]:
    rolling_out = prev.phase == "Pending" and not lost and ready.total < spec.replicas
    if rolling_out:
        return "Pending", f"rolling out: {ready.total} of {spec.replicas} replicas ready"
    if spof:
        first = next(f for f in found if f.severity == "SPOF")
        return "AtRisk", f"single point of failure: {first.message}"
    if lost or ready.total < spec.replicas:
        where = f"zone(s) {', '.join(lost)} lost; " if lost else ""
        return "Degraded", f"{where}{ready.total} of {spec.replicas} replicas ready in {len(ready.zones)} zones"
    return "Redundant", f"{ready.total} ready replicas in {len(ready.zones)} zones; no single point of failure"


def _events(
    prev: ResilientSiteStatus,
    new: ResilientSiteStatus,
    plan: split.Placement,
    current: dict[str, int | None],
    zone_set: zones.ZoneSet,
) -> list[Event]:
    out: list[Event] = []
    before = {z.name: z.healthy for z in prev.zones}
    for zone in zone_set.expected:
        was, now_healthy = before.get(zone), zone_set.health[zone].healthy
        if was is True and not now_healthy:
            out.append(
                Event(
                    "Warning",
                    "ZoneLost",
                    f"zone {zone} lost: none of its {zone_set.health[zone].nodes} node(s) is Ready",
                )
            )
        elif was is False and now_healthy:
            out.append(
                Event(
                    "Normal", "ZoneRecovered", f"zone {zone} is back: {zone_set.health[zone].ready_nodes} node(s) Ready"
                )
            )
    changes = {z: (c, plan.desired[z]) for z, c in current.items() if c is not None and c != plan.desired[z]}
    if changes:
        # A zone growing past its even share takes over; one growing back to it (after an evacuation) returns.
        over = any(new > old and new > plan.base[z] for z, (old, new) in changes.items())
        reason = "Failover" if plan.failover_active and over else "Failback"
        if not plan.failover_active and not any(
            c.type == "FailoverActive" and c.status == "True" for c in prev.conditions
        ):
            reason = "Scaled"
        moves = ", ".join(f"{z} {old}->{new}" for z, (old, new) in sorted(changes.items()))
        out.append(Event("Normal", reason, f"replicas per zone: {moves}"))
    if new.phase != "Pending":
        old_spofs = {(f.scope, f.name) for f in prev.single_points_of_failure if f.severity == "SPOF"}
        for finding in new.single_points_of_failure:
            if finding.severity == "SPOF" and (finding.scope, finding.name) not in old_spofs:
                out.append(Event("Warning", "SinglePointOfFailure", f"{finding.scope}: {finding.message}"))
    if new.phase == "Redundant" and prev.phase != "Redundant":
        out.append(Event("Normal", "Redundant", new.message))
    return out
