"""What the site is now: its zones and their health, its ready pods, which zones are out of service and
why (lost, full, evacuated, or inside the failback window), and whether the spec can be carried out."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from spofless.core.judgement import findings
from spofless.core.model import names
from spofless.core.model.spec import ResilientSiteSpec
from spofless.core.model.status import Cause, ResilientSiteStatus
from spofless.core.observed.records import Observed
from spofless.core.placement import triggers, zones
from spofless.core.site.inputs import Pass, Problem


@dataclass(frozen=True)
class Assessment:
    """The site as this pass finds it, before anything is placed."""

    spec: ResilientSiteSpec
    zone_set: zones.ZoneSet
    known: list[str]  # the zones the site knows (status.knownZones)
    gone: dict[str, datetime]  # zone without a node -> since when
    ready: findings.Readiness
    current: dict[str, int | None]  # replicas of each zone's Deployment now (None: none yet)
    triggered: triggers.Triggers  # why each zone out of service is
    zone_times: dict[str, datetime | None]  # when each zone last went out of service or back in
    failback_left: dict[str, float]  # zones back in, inside the failback window -> seconds left in it
    problem: Problem | None  # the spec cannot be carried out here

    @property
    def out_of_service(self) -> list[str]:
        """Lost, full or evacuated zones, and zones inside the failback window."""
        return [*self.triggered.causes, *self.failback_left]

    @property
    def in_service(self) -> list[str]:
        return [z for z in self.zone_set.expected if z not in self.out_of_service]


def assess(run: Pass, spec: ResilientSiteSpec, observed: Observed) -> Assessment:
    """The zones, their health and readiness, and the triggers that take zones out of service."""
    prev, now = run.prev, run.now
    deployed = [c.zone for c in observed.children if c.kind == "Deployment" and c.zone]
    was_gone = {z.name: z.gone_since for z in prev.zones if z.gone_since is not None}
    # A zone spec.zones lists is never forgotten: without nodes, it is lost. Nor is one with a pod that
    # says Ready: it may serve behind a partition.
    serving = {p.zone for p in observed.pods if p.ready and not p.terminating}
    forgettable = {z: t for z, t in was_gone.items() if z not in (spec.zones or ()) and z not in serving}
    known = zones.known(prev.known_zones, deployed, forgettable, now)
    zone_set = zones.resolve(spec.zones, spec.topology_key, observed.nodes, known)
    silent = triggers.silent_zone(spec, zone_set, observed.silence)
    ready = findings.readiness(observed, list(zone_set.expected), silent.zone if silent and silent.acting else None)
    seen = triggers.Observation(observed.pods, ready.per_zone, {z.name: z for z in prev.zones}, silent)
    triggered = triggers.assess(spec, zone_set, seen, now)
    zone_times = _zone_times(zone_set, triggered.causes, prev, now)
    window = spec.failover.failback_after_seconds
    # Zones back for less than the failback window still count as out of service: no flapping.
    failback_left = {
        z: window - (now - t).total_seconds()
        for z, t in zone_times.items()
        if t is not None and z not in triggered.causes and (now - t).total_seconds() < window
    }
    return Assessment(
        spec=spec,
        zone_set=zone_set,
        known=known,
        gone=zones.gone_since(zone_set, was_gone, now),
        ready=ready,
        current=_current_replicas(run.site.name, zone_set, observed),
        triggered=triggered,
        zone_times=zone_times,
        failback_left=failback_left,
        problem=_problem(run, spec, zone_set, observed),
    )


def _problem(run: Pass, spec: ResilientSiteSpec, zone_set: zones.ZoneSet, observed: Observed) -> Problem | None:
    """Why the spec cannot be carried out on this cluster, if it cannot. A refused template is no such
    problem: it halts the rollout, every zone keeps the template it runs, and replicas still move.
    Other refusals (a Service, a budget) hold everything."""
    if zone_set.unknown:
        listed = ", ".join(zone_set.unknown)
        return Problem(
            "UnknownZone",
            f"zone(s) {listed} in spec.zones have no node labelled {spec.topology_key}; nothing was changed",
        )
    unlabelled = bool(observed.nodes) and not any(n.zone(spec.topology_key) for n in observed.nodes)
    if unlabelled or not zone_set.expected:  # nodes exist but none is in a zone: a wrong key, not an outage
        return Problem(
            "NoZones", f"no node carries the label {spec.topology_key}, so no zone can be found; nothing was changed"
        )
    failure = run.failure
    has_deployments = any(c.kind == "Deployment" for c in observed.children)
    if failure is not None and failure.reason == "ApplyRefused" and not (run.refused_template and has_deployments):
        return Problem(failure.reason, failure.message)
    return None


def refused_template(run: Pass, observed: Observed) -> str | None:
    """The API server's message when it refused the template of a zone that exists: a halted rollout."""
    if run.failure is not None and run.refused_template and any(c.kind == "Deployment" for c in observed.children):
        return run.failure.message
    return None


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


def _current_replicas(site: str, zone_set: zones.ZoneSet, observed: Observed) -> dict[str, int | None]:
    by_name = {c.name: c for c in observed.children if c.kind == "Deployment"}
    out: dict[str, int | None] = {}
    for zone in zone_set.expected:
        child = by_name.get(names.child_name(site, zone))
        out[zone] = child.replicas if child is not None else None
    return out
