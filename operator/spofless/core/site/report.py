"""The site's status: every field from what one pass found and decided, and `judge`, the one function that
sets the phase and every condition. "Why is my site Degraded?" is answered there and nowhere else.

Conditions (metav1.Condition, each with the generation it describes):

- Ready: the site serves as asked: the spec is carried out (not Stalled, the children applied), at
  least spec.replicas replicas are ready, and the template asked for runs in every zone (no rollout
  under way). It says nothing of single points of failure: that is Redundant. A site that lost a
  zone but has its replicas ready again elsewhere is Ready (and Reconciling: it will fail back).
- Reconciling: the operator is still converging: the first rollout, a failover or failback in
  progress (replicas moved, a zone inside its failback window, an evacuation moving out), a
  template rollout progressing, replicas not all ready yet, or an apply that failed and is retried.
- Stalled: it cannot progress without a person: the spec cannot be carried out (Invalid: an
  unreadable spec, no zone found, an unknown zone, an object the API server refuses) or a rollout
  halted (fix the template or resume it).
- Reconciled, Redundant, FailoverActive, CapacityShort, RolloutHalted; DependenciesReady,
  Evacuation and TrafficDistribution when asked for: see the README's status section.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal

from spofless.core.judgement import dependencies, findings, shortfall
from spofless.core.model import names
from spofless.core.model.status import (
    CAUSE_WORDS,
    Cause,
    Condition,
    Finding,
    Phase,
    ResilientSiteStatus,
    ZoneStatus,
)
from spofless.core.observed.records import Observed
from spofless.core.placement import scale, zones
from spofless.core.rollout import machine
from spofless.core.rollout.templates import Templates
from spofless.core.site.assessment import Assessment
from spofless.core.site.inputs import Pass, Problem
from spofless.core.site.placing import Placed

_CAUSE_ORDER: dict[Cause, int] = {"ZoneLost": 0, "ZoneSilent": 1, "ZoneFull": 2, "Evacuated": 3}


@dataclass(frozen=True)
class Facts:
    """Everything one pass found and decided that the status reports.

    seen None: nothing could be looked at through the spec (unreadable, or no zone found): the last
    status stands, marked Invalid. rollout None: the spec cannot be carried out, so no rollout ran."""

    run: Pass
    observed: Observed
    problem: Problem | None = None
    seen: Assessment | None = None
    placed: Placed | None = None
    deps: list[dependencies.DependencyReport] = field(default_factory=list)
    rollout: Templates | None = None

    @property
    def template_refused(self) -> bool:
        return self.rollout is not None and self.rollout.step.status.halt_reason == "TemplateRefused"


def status(facts: Facts) -> ResilientSiteStatus:
    """The status of this pass: what is observed, then the phase and the conditions `judge` gives."""
    out = _standing(facts) if facts.seen is None else _observed(facts, facts.seen)
    verdict = judge(facts, out)
    out.phase, out.message, out.conditions = verdict.phase, verdict.message, verdict.conditions
    return out


def _standing(facts: Facts) -> ResilientSiteStatus:
    """The last status, for a spec through which nothing can be looked at."""
    run = facts.run
    out = run.prev.model_copy(deep=True)
    out.observed_generation = run.site.generation
    kept = [f for f in out.single_points_of_failure if f.scope != "Status"]
    out.single_points_of_failure = [*kept, *run.unreadable]
    return out


def _observed(facts: Facts, seen: Assessment) -> ResilientSiteStatus:
    """Every field but the phase, its message and the conditions."""
    assert facts.placed is not None
    run, spec, placed, zone_set, ready = facts.run, seen.spec, facts.placed, seen.zone_set, seen.ready
    plan = placed.plan
    found = _findings(facts, seen)
    multi_zone = len(zone_set.expected) > 1
    what_if = findings.zone_loss(
        spec, dependencies.what_if_zones(zone_set.expected, facts.deps), ready, placed.verdicts
    )
    return ResilientSiteStatus(
        observed_generation=run.site.generation,
        spof=any(f.severity == "SPOF" for f in found),
        replicas=scale.current(plan, seen.out_of_service),
        selector=scale.selector(run.site.name),
        ready_replicas=ready.total,
        ready_zones=len(ready.zones),
        zones=[
            ZoneStatus(
                name=z,
                deployment=names.child_name(run.site.name, z),
                desired_replicas=plan.desired[z],
                ready_replicas=ready.per_zone.get(z, 0),
                nodes=zone_set.health[z].nodes,
                ready_nodes=zone_set.health[z].ready_nodes,
                healthy=zone_set.health[z].healthy,
                cause=seen.triggered.causes.get(z),
                since=seen.zone_times[z],
                gone_since=seen.gone.get(z),
            )
            for z in zone_set.expected
        ],
        known_zones=zones.remembered(zone_set, seen.known),
        single_points_of_failure=found,
        zone_loss=dependencies.zone_loss(what_if, facts.deps, multi_zone),
        evacuations=seen.triggered.evacuations,
        traffic_distribution=(placed.traffic.value if placed.traffic is not None else None) or "",
        rollout=facts.rollout.step.status if facts.rollout is not None else run.prev.rollout,
        dependencies=dependencies.statuses(facts.deps),
        conditions=list(run.prev.conditions),
    )


def _findings(facts: Facts, seen: Assessment) -> list[Finding]:
    """Every finding, single points of failure first: a halted rollout's, the site's own, its room, its
    unschedulable replicas and its dependencies'; then the status fields that could not be read and
    the minZones floor (warnings)."""
    assert facts.placed is not None
    spec, placed = seen.spec, facts.placed
    found = findings.findings(spec, seen.zone_set, seen.ready, facts.observed, facts.run.site.name)
    found += [
        Finding(scope="Capacity", name=v.zone, severity="Warning", message=v.message)
        for v in placed.verdicts.values()
        if not v.absorbable
    ]
    found += shortfall.findings(placed.shorts)
    found = sorted([*found, *dependencies.findings(facts.deps)], key=lambda f: f.severity != "SPOF")
    rollout = (
        machine.findings(facts.rollout.step.status, facts.rollout.views, spec.min_zones)
        if facts.rollout is not None
        else []
    )
    floor = scale.floor_finding(spec)
    return [*rollout, *found, *facts.run.unreadable, *([floor] if floor is not None else [])]


# --- the phase and the conditions ----------------------------------------------------------------


@dataclass(frozen=True)
class Health:
    """What the phase is read from (a full pass's status, or a zone report's cheaper guess)."""

    asked: int  # spec.replicas
    ready: int
    ready_zones: int
    lost: Sequence[str]  # zones with no Ready node
    causes: Mapping[str, Cause]  # every zone out of service, and why
    first_spof: str | None  # the message of the first single point of failure, if there is one
    was_pending: bool  # the last phase was Pending: the site's first rollout


def phase_of(health: Health) -> tuple[Phase, str]:
    """Pending (the first rollout), AtRisk (a single point of failure), Degraded (a zone lost, full or
    evacuated, or fewer ready replicas than asked) or Redundant, and the line a person reads first."""
    lost, ready, asked = list(health.lost), health.ready, health.asked
    if health.was_pending and not lost and ready < asked:
        return "Pending", f"rolling out: {ready} of {asked} replicas ready"
    if health.first_spof is not None:
        return "AtRisk", f"single point of failure: {health.first_spof}"
    if lost or ready < asked:
        where = f"zone(s) {', '.join(lost)} lost; " if lost else ""
        return "Degraded", f"{where}{ready} of {asked} replicas ready in {health.ready_zones} zones"
    message = f"{ready} ready replicas in {health.ready_zones} zones; no single point of failure"
    others = {z: c for z, c in health.causes.items() if c != "ZoneLost"}
    if others:  # a full or evacuated zone: the site is spread, but not as asked
        zone, cause = first_cause(others)
        return "Degraded", f"zone {zone} {CAUSE_WORDS[cause]}; {message}"
    return "Redundant", message


def first_cause(causes: Mapping[str, Cause]) -> tuple[str, Cause]:
    """The zone out of service a person should hear of first: lost before full before evacuated."""
    return min(causes.items(), key=lambda zc: (_CAUSE_ORDER[zc[1]], zc[0]))


@dataclass(frozen=True)
class Verdict:
    phase: Phase
    message: str
    conditions: list[Condition]


# A condition to set: (type, ok, reason, message); ok None drops it.
Want = tuple[str, bool | None, str, str]


def judge(facts: Facts, status: ResilientSiteStatus) -> Verdict:
    """The phase, its message and every condition of the site: the one place that says them."""
    run, seen, problem = facts.run, facts.seen, facts.problem
    stalled = _stalled(facts)
    if seen is None:  # nothing to look at: the last status stands, Invalid
        assert problem is not None
        wants: list[Want] = [("Reconciled", False, problem.reason, problem.message)]
        wants += _kstatus(facts, status, stalled)
        return Verdict("Invalid", problem.message, _conditions(status.conditions, wants, run))
    assert facts.placed is not None
    first = next((f for f in status.single_points_of_failure if f.severity == "SPOF"), None)
    ready = seen.ready
    health = Health(
        asked=seen.spec.replicas,
        ready=ready.total,
        ready_zones=len(ready.zones),
        lost=seen.zone_set.lost,
        causes=seen.triggered.causes,
        first_spof=first.message if first is not None else None,
        was_pending=run.prev.phase == "Pending",
    )
    phase, message = phase_of(health)
    if problem is not None:
        phase, message = "Invalid", problem.message
    elif facts.template_refused and facts.rollout is not None:
        phase, message = "Invalid", facts.rollout.step.status.message
    wants = [
        _dependencies_ready(facts),
        ("Redundant", first is None, "SinglePointOfFailure" if first else "NoSinglePointOfFailure",
         first.message if first else f"losing any one zone leaves at least {_worst_left(status)} ready replicas"),
        _failover(facts, seen),
        _capacity_short(facts.placed),
        _evacuation(seen),
        _traffic(facts.placed),
        *_rollout_halted(facts),
        _reconciled(facts),
        *_kstatus(facts, status, stalled),
    ]  # fmt: skip
    conditions = [c for c in status.conditions if facts.deps or c.type != "DependenciesReady"]
    return Verdict(phase, message, _conditions(conditions, wants, run))


def _conditions(old: list[Condition], wants: list[Want], run: Pass) -> list[Condition]:
    out = list(old)
    for kind, ok, reason, message in wants:
        if ok is None:
            out = [c for c in out if c.type != kind]
        else:
            out = set_condition(out, kind, ok, reason, message, (run.now, run.site.generation))
    return out


def set_condition(
    conditions: list[Condition], kind: str, ok: bool, reason: str, message: str, at: tuple[datetime, int]
) -> list[Condition]:
    """The conditions with one replaced; its transition time moves only when its status does.
    at: (now, the generation it describes)."""
    now, generation = at
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


def _worst_left(status: ResilientSiteStatus) -> int:
    return min((z.ready_replicas_left for z in status.zone_loss), default=0)


def _dependencies_ready(facts: Facts) -> Want:
    if not facts.deps:
        return ("DependenciesReady", None, "", "")
    return ("DependenciesReady", *dependencies.condition(facts.deps))


def _failover(facts: Facts, seen: Assessment) -> Want:
    assert facts.placed is not None
    plan, triggered = facts.placed.plan, seen.triggered
    if not plan.failover_active:
        return ("FailoverActive", False, "EvenSpread", "replicas are spread evenly over the zones")
    where = ", ".join(f"{z} {n:+d}" for z, n in sorted(plan.moved.items()))
    if not triggered.causes:  # every zone back, some inside the failback window
        return ("FailoverActive", True, "ZoneLost", f"zone(s) (recovering) out of service; replicas moved: {where}")
    zone, cause = first_cause(triggered.causes)
    why = ", ".join(f"{z} {CAUSE_WORDS[c]}" for z, c in sorted(triggered.causes.items()))
    detail = f" ({triggered.full[zone]})" if cause == "ZoneFull" and zone in triggered.full else ""
    return ("FailoverActive", True, cause, f"zone(s) out of service: {why}{detail}; replicas moved: {where}")


def _capacity_short(placed: Placed) -> Want:
    shorts = placed.shorts
    reason = "Unschedulable" if shorts else "AllScheduled"
    return ("CapacityShort", bool(shorts), reason, shortfall.condition_message(shorts))


def _evacuation(seen: Assessment) -> Want:
    entries = seen.triggered.evacuations
    if not entries:
        return ("Evacuation", None, "", "")
    refused = [e for e in entries if e.state == "Refused"]
    if refused:
        return ("Evacuation", False, "Refused", "; ".join(e.message for e in refused))
    active = [e for e in entries if e.state in ("Evacuating", "Evacuated")]
    if active:
        reason = "Evacuating" if any(e.state == "Evacuating" for e in active) else "Evacuated"
        return ("Evacuation", True, reason, "; ".join(e.message for e in active))
    return ("Evacuation", True, "Ended", "every evacuation has ended")


def _traffic(placed: Placed) -> Want:
    mode = placed.traffic
    if mode is None:
        return ("TrafficDistribution", None, "", "")
    return ("TrafficDistribution", mode.value is not None, mode.reason, mode.message)


def _rollout_halted(facts: Facts) -> list[Want]:
    """RolloutHalted, when a rollout ran this pass (while the spec cannot be carried out, it stays as it was)."""
    if facts.rollout is None:
        return []
    step = facts.rollout.step
    if step.halted:
        return [("RolloutHalted", True, step.status.halt_reason or "Halted", step.status.message)]
    return [("RolloutHalted", False, "NotHalted", f"rollout {step.status.phase.lower()}: {step.status.message}")]


def _reconciled(facts: Facts) -> Want:
    failure = facts.run.failure
    if facts.problem is not None:
        return ("Reconciled", False, facts.problem.reason, facts.problem.message)
    if facts.template_refused and facts.rollout is not None:
        return ("Reconciled", False, "ApplyRefused", facts.rollout.step.status.message)
    if failure is not None:
        return ("Reconciled", False, failure.reason, failure.message)
    return ("Reconciled", True, "Applied", "children match the spec")


def _stalled(facts: Facts) -> tuple[str, str] | None:
    """(reason, message) when the site cannot progress without a person."""
    if facts.problem is not None:
        return facts.problem.reason, facts.problem.message
    if facts.rollout is not None and facts.rollout.step.halted:
        step = facts.rollout.step.status
        return ("ApplyRefused" if facts.template_refused else "RolloutHalted"), step.message
    return None


def _reconciling(facts: Facts, status: ResilientSiteStatus) -> tuple[str, str] | None:
    """(reason, message) while the operator is still converging."""
    seen, placed, failure = facts.seen, facts.placed, facts.run.failure
    if seen is None or placed is None:
        return None
    if failure is not None and failure.reason == "ApplyFailed":
        return "Retrying", f"an apply failed and is retried: {failure.message}"
    if facts.run.prev.phase == "Pending" and status.ready_replicas < seen.spec.replicas:
        return "FirstRollout", f"rolling out: {status.ready_replicas} of {seen.spec.replicas} replicas ready"
    if placed.plan.failover_active or seen.triggered.causes:
        return "Failover", "replicas moved out of the zones out of service; they return when the zones do"
    if seen.failback_left or placed.plan.held:
        return "Failback", "replicas move back to the zones that came back, once they are ready there"
    if any(e.state == "Evacuating" for e in seen.triggered.evacuations):
        return "Evacuating", "capacity moves out of an evacuated zone as it is ready elsewhere"
    rollout = facts.rollout.step.status if facts.rollout is not None else None
    if rollout is not None and rollout.phase in ("Progressing", "Baking", "Waiting"):
        return "RolloutProgressing", rollout.message
    if status.ready_replicas < seen.spec.replicas:
        return "ReplicasNotReady", f"{status.ready_replicas} of {seen.spec.replicas} replicas ready"
    return None


def _kstatus(facts: Facts, status: ResilientSiteStatus, stalled: tuple[str, str] | None) -> list[Want]:
    """Stalled, Reconciling and Ready, as kstatus (Flux, `kubectl wait --for=condition=Ready`) reads them."""
    reconciling = None if stalled is not None else _reconciling(facts, status)
    out: list[Want] = [
        ("Stalled", True, *stalled) if stalled else ("Stalled", False, "Progressing", "nothing waits for a person"),
        ("Reconciling", True, *reconciling)
        if reconciling
        else ("Reconciling", False, "Reconciled", "the operator has done all the spec asks for now"),
    ]
    seen, failure = facts.seen, facts.run.failure
    asked = seen.spec.replicas if seen is not None else None
    rollout = facts.rollout.step.status if facts.rollout is not None else None
    if stalled is not None:
        out.append(("Ready", False, stalled[0], stalled[1]))
    elif failure is not None:
        out.append(("Ready", False, failure.reason, failure.message))
    elif asked is not None and status.ready_replicas < asked:
        out.append(("Ready", False, "ReplicasNotReady", f"{status.ready_replicas} of {asked} replicas ready"))
    elif rollout is not None and rollout.phase != "Complete":
        out.append(("Ready", False, "RolloutInProgress", rollout.message))
    else:
        out.append(("Ready", True, "AllReplicasReady", f"{status.ready_replicas} of {asked} replicas ready, "
                    "on the template asked for in every zone"))  # fmt: skip
    return out
