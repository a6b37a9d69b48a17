"""The one decision the operator makes about a site: what to apply, what to report, what to announce.

Pure: the site, what is observed and the time go in; manifests, a status and events come out.
`decide` only orchestrates the stages, each in a module of its own: the site's memory (`memory`),
what the site is now (`assessment`), where its replicas go (`placing`), the rollout of its template
(`rollout.templates`), the status with its phase and conditions (`report`) and the events (`announce`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from pydantic import ValidationError

from spofless.core.judgement import datacenters as dc_report
from spofless.core.judgement import dependencies
from spofless.core.model import names
from spofless.core.model.events import Event
from spofless.core.model.spec import ResilientSiteSpec
from spofless.core.observed.records import Observed
from spofless.core.placement import datacenters as dc_split
from spofless.core.placement import traffic
from spofless.core.rollout import templates as rollout
from spofless.core.site import announce, assessment, memory, owned, placing, report, silent
from spofless.core.site.assessment import Assessment
from spofless.core.site.inputs import ApplyFailure, Pass, Problem, Site
from spofless.core.site.report import Facts

__all__ = ["ApplyFailure", "Decision", "Site", "decide", "progress_only"]


@dataclass(frozen=True)
class Decision:
    status: dict[str, Any]
    apply: list[owned.Manifest] = field(default_factory=list)
    delete: list[tuple[str, str]] = field(default_factory=list)  # (kind, name) of children no longer wanted
    events: list[Event] = field(default_factory=list)
    wake_after: float | None = None  # seconds until a timed step (a failback window ending, a bake) is due
    # The step due first is a failback (a zone's or a data center's window ending): capacity moves
    # back, so it is served as the moves that follow a zone's loss are, not behind every other pass.
    wake_moves: bool = False
    scale: dict[str, int] = field(default_factory=dict)  # Deployment -> replicas, written without its template
    unready: list[str] = field(default_factory=list)  # pods of a silent zone to take out of the Service
    evict: list[str] = field(default_factory=list)  # pods left marked after their zone renewed again


def decide(site: Site, observed: Observed, now: datetime, failure: ApplyFailure | None = None) -> Decision:
    """What to apply, report and announce for one site.

    Whatever is wrong with the spec, the status reports what is observed (ready counts, zones,
    findings, what-if); only the children are left alone.
    """
    prev, unreadable = memory.previous_status(site.status)
    run = Pass(site, prev, unreadable, now, failure)
    try:
        spec = ResilientSiteSpec.model_validate(site.spec)
    except ValidationError as err:
        return _standing_still(Facts(run, observed, Problem("InvalidSpec", _validation_message(err))))
    # Data centers (issue 22): spec.replicas is the site's total; from here on it is this data center's
    # share (zones, readiness, phase), or a hold that moves nothing.
    dcs = dc_split.for_site(spec, observed.datacenters, site.key, now)
    if dcs is not None and dcs.replicas is not None:
        spec = spec.model_copy(update={"replicas": dcs.replicas})
    seen = assessment.assess(run, spec, observed)
    if seen.problem is not None and seen.problem.reason == "NoZones":
        # Zones seen through a key no node carries would all look lost: report the last zones seen.
        return _standing_still(Facts(run, observed, seen.problem))
    placed = placing.place(site, seen, observed, hold=dcs is not None and dcs.hold is not None)
    deps = dependencies.resolve(site.namespace, spec, observed, multi_zone=len(seen.zone_set.expected) > 1)
    templates = None if seen.problem is not None else _roll_out(run, seen, placed, observed)
    facts = Facts(run, observed, seen.problem, seen, placed, deps, templates)
    status = report.status(facts)
    # Data centers: the entries, the what-if, the findings (the phase counts them) and the condition.
    for kind, ok, reason, message in dc_report.annotate(status, spec, observed.datacenters, dcs, seen.ready.total):
        status.conditions = report.set_condition(status.conditions, kind, ok, reason, message, (now, site.generation))
    events = announce.events(facts, status) + dc_report.events(prev, status)
    unready, evict = _silent_zone(seen, observed)  # traffic out of a silent zone waits on no spec fix
    if templates is None:  # the spec cannot be carried out: nothing is applied or deleted, pods run on
        return Decision(status=status.wire(), events=events, unready=unready, evict=evict)
    manifests = _children(site, facts, templates)
    wake_after, wake_moves = _wake(seen, templates, dcs.wake_after if dcs is not None else None)
    return Decision(
        status=status.wire(),
        apply=manifests,
        delete=_stale(site, seen, observed, manifests),
        events=events,
        wake_after=wake_after,
        wake_moves=wake_moves,
        scale=_scale_only(site, templates.scale_only, placed.plan.desired, seen.current),
        unready=unready,
        evict=evict,
    )


# A first rollout's progress: every pod turning ready would be a write of its own.
PROGRESS_SECONDS = 30.0
# What only counts ready pods, at the top and in each entry of these lists (see `counts_only`).
COUNTS = ("readyReplicas", "readyZones", "message", "zoneLoss", "dataCenterLoss")
ENTRY_COUNTS = {"zones": ("readyReplicas",), "conditions": ("message",), "singlePointsOfFailure": ("message",),
                "dataCenters": ("readyReplicas",), "dependencies": ("readyEndpoints", "zones", "nodes")}  # fmt: skip


def fold_wait(old: dict[str, Any], new: Decision, counts_seconds: float, since_write: float) -> float:
    """Seconds a pass's new status may wait, to be written folded with the next write (0: at once).

    A first rollout's progress waits until PROGRESS_SECONDS after the site's last status write. A
    change of ready counts alone, only with `spofless run --fold-counts` (`counts_seconds`), waits
    as long after the last write, or for the site's next timed step when that is due within as
    long: a returning zone's pods turn ready shortly before its failback, which writes both at once.
    Anything else, and anything with an event, is news, written at once."""
    if new.events:
        return 0.0
    if progress_only(old, new.status):
        return max(PROGRESS_SECONDS - since_write, 0.0)
    if counts_seconds <= 0 or not counts_only(old, new.status):
        return 0.0
    step = new.wake_after if new.wake_after is not None and new.wake_after <= counts_seconds else 0.0
    return max(counts_seconds - since_write, step, 0.0)


def counts_only(old: dict[str, Any], new: dict[str, Any]) -> bool:
    """True when two statuses differ only in how many pods are ready, and what follows from those
    counts alone (the message, the what-if): the phase, the zones' health, every condition's status
    and reason, and every finding stay as they were."""
    return _without_counts(old) == _without_counts(new)


def _without_counts(status: dict[str, Any]) -> dict[str, Any]:
    out = {k: v for k, v in status.items() if k not in COUNTS}
    for key, fields in ENTRY_COUNTS.items():
        entries = out.get(key)
        if isinstance(entries, list):
            out[key] = [{k: v for k, v in e.items() if k not in fields} if isinstance(e, dict) else e for e in entries]
    return out


def progress_only(old: dict[str, Any], new: dict[str, Any]) -> bool:
    """True when a new status only reports the progress of a site's first rollout (ready counts,
    findings settling while its children appear): such a status may wait a moment to be written,
    folded with the next one. Every other change is news to write at once."""
    return old.get("phase") == new.get("phase") == "Pending" and old.get("observedGeneration") == new.get(
        "observedGeneration"
    )


def _standing_still(facts: Facts) -> Decision:
    """A spec through which no zone can be looked at: the last status, Invalid, and nothing touched."""
    status = report.status(facts)
    return Decision(status=status.wire(), events=announce.events(facts, status))


def _validation_message(err: ValidationError) -> str:
    parts = [f"spec.{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in err.errors()[:3]]
    return "; ".join(parts)


def _roll_out(run: Pass, seen: Assessment, placed: placing.Placed, observed: Observed) -> rollout.Templates:
    """The template each zone runs, from the rollout's next move."""
    health = seen.zone_set.health
    zones = rollout.Zones(
        names=seen.zone_set.expected,
        desired=placed.plan.desired,
        ready_nodes={z: health[z].ready_nodes for z in seen.zone_set.expected},
        in_service=seen.in_service,
    )
    request = rollout.SiteRollout(
        site=run.site.name,
        spec=seen.spec,
        zones=zones,
        prev=run.prev.rollout,
        ready_total=seen.ready.total,
        resume=run.site.annotations.get(names.ANNOTATION_RESUME),
        refused=assessment.refused_template(run, observed),
    )
    return rollout.plan(request, observed, run.now)


def _children(site: Site, facts: Facts, templates: rollout.Templates) -> list[owned.Manifest]:
    assert facts.seen is not None and facts.placed is not None
    mode = facts.placed.traffic
    have_service = next((c.body for c in facts.observed.children if c.kind == "Service" and c.name == site.name), None)
    # No voluntary disruption while a zone is being rolled out: its new pods are on trial.
    rolling = templates.step.status.phase in ("Progressing", "Baking")
    wanted = owned.Wanted(
        replicas=facts.placed.plan.desired,
        traffic=mode.value if mode else None,
        lift=traffic.to_lift(mode, have_service),
        sources=templates.sources,
        rolled_back=templates.step.rolled_back,
        scale_only=templates.scale_only,
        budget=0 if rolling else None,
    )
    return owned.children(site.owner, facts.seen.spec, wanted)


def _stale(site: Site, seen: Assessment, observed: Observed, manifests: list[owned.Manifest]) -> list[tuple[str, str]]:
    """The children no longer wanted. Deployments of a zone no longer wanted (it left spec.zones, or its
    nodes have been gone for zones.FORGET_AFTER) go only once the wanted zones carry the full spec.
    Other stale children go at once: a pod two budgets cover cannot be evicted at all."""
    wanted = {(m["kind"], m["metadata"]["name"]) for m in manifests}
    # A zone whose Deployment is only scaled (its template unknown) still wants that Deployment.
    wanted |= {("Deployment", names.child_name(site.name, z)) for z in seen.zone_set.expected}
    stale = [(c.kind, c.name) for c in observed.children if (c.kind, c.name) not in wanted and not c.terminating]
    wanted_zones_ready = sum(seen.ready.per_zone[z] for z in seen.zone_set.expected) >= seen.spec.replicas
    return [(kind, name) for kind, name in stale if wanted_zones_ready or kind != "Deployment"]


def _silent_zone(seen: Assessment, observed: Observed) -> tuple[list[str], list[str]]:
    """The pods to take out of the Service in a zone judged silent (while enough serve elsewhere), and
    the leftovers of an earlier silence to evict."""
    zone = next((z for z, c in seen.triggered.causes.items() if c == "ZoneSilent"), None)
    spec, expected = seen.spec, seen.zone_set.expected
    pulling = zone is not None and silent.enough_elsewhere(
        seen.ready.total, spec.replicas, len(expected), spec.min_zones
    )
    unready = silent.to_unready(observed.pods, zone) if zone is not None and pulling else []
    return unready, silent.leftovers(observed.pods, observed.silence)


def _wake(seen: Assessment, templates: rollout.Templates, data_centers: float | None) -> tuple[float | None, bool]:
    """Seconds until time alone changes the decision: a failback window ending (a zone's or a data
    center's), a trigger, a bake or a deadline; and whether the first due is a failback."""
    failbacks = [w for w in [*seen.failback_left.values(), data_centers] if w is not None]
    others = [w for w in (seen.triggered.wake_after, templates.step.wake_after) if w is not None]
    if not failbacks and not others:
        return None, False
    first = min(failbacks + others)
    return first, bool(failbacks) and min(failbacks) == first


def _scale_only(
    site: Site, scale_only: frozenset[str], desired_replicas: dict[str, int], current: dict[str, int | None]
) -> dict[str, int]:
    """Replicas of zones whose template spofless leaves alone, written through the scale subresource."""
    return {
        names.child_name(site.name, z): desired_replicas[z]
        for z in sorted(scale_only)
        if current.get(z) is not None and current[z] != desired_replicas[z]
    }
