"""From a site and what is observed to the template each zone's Deployment runs: reads the zones' Deployments,
runs the rollout machine and turns its revisions into templates."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from spofless.core.model import names, template
from spofless.core.model.events import Event
from spofless.core.model.spec import ResilientSiteSpec
from spofless.core.model.status import RolloutStatus
from spofless.core.observed import records
from spofless.core.observed.records import Child, Observed
from spofless.core.rollout import machine
from spofless.core.rollout.machine import Revision, Step, ZoneView, refusal_status, step


@dataclass(frozen=True)
class Zones:
    """The site's zones as this pass leaves them: what the rollout weighs before starting a zone."""

    names: Sequence[str]
    desired: Mapping[str, int]  # replicas each zone's Deployment is to have after this pass
    ready_nodes: Mapping[str, int]
    in_service: Collection[str]  # healthy, and not inside a failback window


def views(observed: Observed, zones: Zones, found: Mapping[str, Deployed]) -> list[ZoneView]:
    """The zones as the rollout sees them, from the pods observed (ready: `records.serving`) and
    what each zone's Deployment says it runs (`found`; a zone without one is absent)."""
    ready = records.ready_nodes(observed.nodes)
    out = []
    for zone in zones.names:
        live = [p for p in observed.pods if p.zone == zone and not p.terminating]
        deployed = found.get(zone)
        out.append(
            ZoneView(
                name=zone,
                exists=deployed is not None,
                revision=deployed.revision if deployed is not None else None,
                desired=zones.desired.get(zone, 0),
                ready_nodes=zones.ready_nodes.get(zone, 0),
                in_service=zone in zones.in_service,
                ready=Counter(p.revision for p in live if records.serving(p, ready)),
                pods=Counter(p.revision for p in live),
                failing=Counter(p.revision for p in live if p.failing),
                rolled_back_from=deployed.rolled_back_from if deployed is not None else None,
            )
        )
    return out


@dataclass(frozen=True)
class Deployed:
    """What a zone's Deployment says of the template it runs."""

    revision: Revision
    source: Mapping[str, object] | None  # the site template it was made from, if it says so legibly
    rolled_back_from: str | None


def deployed(child: Child) -> Deployed:
    meta = child.body.get("metadata") or {}
    annotations = meta.get("annotations") or {}
    pod_meta = ((child.body.get("spec") or {}).get("template") or {}).get("metadata") or {}
    revision = (pod_meta.get("annotations") or {}).get(names.ANNOTATION_REVISION)
    source = None
    try:
        loaded = json.loads(annotations.get(names.ANNOTATION_TEMPLATE) or "null")
    except ValueError:
        loaded = None
    if isinstance(loaded, dict) and revision is not None and template.revision(loaded) == revision:
        source = loaded  # only a source that hashes to the revision the pods carry is trusted
    return Deployed(revision=revision, source=source, rolled_back_from=annotations.get(names.ANNOTATION_ROLLED_BACK))


_NONE = Deployed(revision=None, source=None, rolled_back_from=None)


@dataclass(frozen=True)
class Templates:
    """The template each zone's Deployment is to run, and the rollout's step that chose them."""

    sources: dict[str, Mapping[str, object]]  # zone -> the site template its Deployment runs
    scale_only: frozenset[str]  # zones whose Deployment is left as it is: only its replicas are written
    step: Step
    views: list[ZoneView]  # the zones as the rollout saw them


@dataclass(frozen=True)
class SiteRollout:
    """What the rollout of a site's template is decided from.

    ready_total: the site's ready pods; no zone starts while fewer than spec.replicas - maxUnavailable.
    resume: the site's resume annotation. refused: the API server's message when it has just refused
    the target template: then no zone gets it, each keeps what it runs, and the rollout halts."""

    site: str
    spec: ResilientSiteSpec
    zones: Zones
    prev: RolloutStatus | None  # the rollout as the last status left it
    ready_total: int
    resume: str | None = None
    refused: str | None = None


def plan(request: SiteRollout, observed: Observed, now: datetime) -> Templates:
    """Reads each zone's Deployment, runs the state machine and turns its revisions into templates."""
    spec, zones = request.spec, request.zones.names
    by_name = {c.name: c for c in observed.children if c.kind == "Deployment"}
    found = {z: deployed(by_name[n]) for z in zones if (n := names.child_name(request.site, z)) in by_name}
    target = template.revision(spec.template)
    known: dict[str, Mapping[str, object]] = {d.revision: d.source for d in found.values() if d.revision and d.source}
    known[target] = spec.template
    zone_views = views(observed, request.zones, found)
    floor_met = request.ready_total >= spec.replicas - spec.disruption_budget.max_unavailable
    move = machine.Request(target, spec.rollout, zone_views, request.prev, request.resume, floor_met, known)
    result = step(move, now)
    if request.refused is not None:
        starting = [z for z, r in result.revisions.items() if r == target and found.get(z, _NONE).revision != target]
        halt = refusal_status(target, request.prev, starting[0] if starting else zones[0], request.refused)
        message = f"rollout of revision {target} halted: {halt.message}"
        result = Step({z: d.revision for z, d in found.items()}, halt, [Event("Warning", "RolloutHalted", message)])
    sources = {z: known[r] for z, r in result.revisions.items() if r is not None and r in known}
    scale_only = frozenset(z for z in zones if z not in sources)
    return Templates(sources=sources, scale_only=scale_only, step=result, views=zone_views)
