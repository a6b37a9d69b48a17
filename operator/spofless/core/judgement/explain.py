"""Why a site has its phase: each thing its status reports, as a point with the fix for it.

Pure: a site as read from the API in, an explanation out. It says nothing the status does not:
the operator judged the site, this only lays the judgement out for a person, most severe first.
"""

from __future__ import annotations

from dataclasses import dataclass

from spofless.core.judgement import remedies
from spofless.core.observed.sites import SiteRecord


@dataclass(frozen=True)
class Point:
    severity: str  # Error (the spec cannot be carried out), SPOF, Warning, Info
    title: str
    detail: str
    fix: str


@dataclass(frozen=True)
class ZoneWhatIf:
    zone: str
    text: str


@dataclass(frozen=True)
class Explanation:
    site: str  # namespace/name
    phase: str
    meaning: str  # what the phase means
    message: str  # the status's own line
    points: tuple[Point, ...]
    zone_loss: tuple[ZoneWhatIf, ...]


_RANK = {"Error": 0, "SPOF": 1, "Warning": 2, "Info": 3}


def explain(site: SiteRecord) -> Explanation:
    """Every reason the status gives for the site's phase, each with its fix."""
    if not site.has_status:
        point = Point(
            "Warning",
            "no status",
            "no operator has reported on this site yet",
            "Check that the operator runs (kubectl -n spofless-system get pods) and watches this namespace "
            "(the chart's watchNamespaces).",
        )
        return Explanation(site.key, "Unknown", "not judged yet", "", (point,), ())
    phase = site.phase or "Unknown"
    points = [*_stale(site), *_reconciled(site), *_findings(site), *_zones(site), *_halt(site), *_evacuations(site)]
    points += _progress(site, phase, points)
    points.sort(key=lambda p: _RANK.get(p.severity, 3))
    return Explanation(
        site=site.key,
        phase=phase,
        meaning=remedies.PHASES.get(phase, "a phase this version does not know"),
        message=site.message,
        points=tuple(points),
        zone_loss=tuple(_what_if(site)),
    )


def _stale(site: SiteRecord) -> list[Point]:
    if site.generation is None or site.observed_generation is None or site.observed_generation >= site.generation:
        return []
    return [
        Point(
            "Info",
            "status behind the spec",
            f"the status describes generation {site.observed_generation}; the spec is at {site.generation}",
            "Wait a few seconds for the operator's next pass; if it never comes, check the operator's log.",
        )
    ]


def _reconciled(site: SiteRecord) -> list[Point]:
    cond = site.condition("Reconciled")
    if cond is None or cond.status != "False":
        return []
    severity = "Error" if site.phase == "Invalid" else "Warning"
    return [Point(severity, f"Reconciled=False ({cond.reason})", cond.message, remedies.for_reconciled(cond.reason))]


def _findings(site: SiteRecord) -> list[Point]:
    return [
        Point(f.severity, f"{f.scope} {f.name}", f.message, remedies.for_finding(f.scope, f.name, "site", site.name))
        for f in site.findings
    ]


def _zones(site: SiteRecord) -> list[Point]:
    return [
        Point(
            "Info",
            f"zone {z.name} out of service ({z.cause})",
            f"{z.ready_replicas} of {z.desired_replicas} replicas ready, {z.ready_nodes} of {z.nodes} nodes ready"
            + (f", since {z.since}" if z.since else ""),
            remedies.for_zone(z.cause, z.name, site.topology_key),
        )
        for z in site.zones
        if z.cause is not None
    ]


def _halt(site: SiteRecord) -> list[Point]:
    cond = site.condition("RolloutHalted")
    if cond is None or cond.status != "True":
        return []
    return [
        Point("Warning", f"rollout halted ({cond.reason})", cond.message, remedies.for_halt(cond.reason, site.name))
    ]


def _evacuations(site: SiteRecord) -> list[Point]:
    return [
        Point(
            "Warning",
            f"evacuation of {e.zone} refused",
            e.message,
            "Evacuating it would leave fewer than minZones zones in service: wait until the other zones are back, "
            "or add force: true to the entry knowingly.",
        )
        for e in site.evacuations
        if e.state == "Refused"
    ]


def _progress(site: SiteRecord, phase: str, points: list[Point]) -> list[Point]:
    """What explains a phase when nothing above does: a first rollout, missing replicas, or all well."""
    ready, asked = site.ready_replicas or 0, site.replicas
    if phase == "Pending":
        return [
            Point(
                "Info",
                "first rollout",
                f"{ready} of {asked} replicas ready so far",
                "Nothing to do while the pods start; if they never turn ready, see "
                f"kubectl get pods -l spofless.dev/site={site.name} -o wide.",
            )
        ]
    if phase == "Degraded" and not any(z.cause for z in site.zones):
        return [
            Point(
                "Info",
                "replicas short",
                f"{ready} of {asked} replicas ready",
                f"See why the missing pods are not ready: kubectl get pods -l spofless.dev/site={site.name} -o wide.",
            )
        ]
    if phase == "Redundant" and not points:
        return [Point("Info", "no single point of failure", site.message or "every check passes", "Nothing to do.")]
    return []


def _what_if(site: SiteRecord) -> list[ZoneWhatIf]:
    out = []
    for z in site.zone_loss:
        text = f"{z.ready_replicas_left} ready replica(s) left in {z.ready_zones_left} zone(s)"
        if z.down or z.ready_replicas_left == 0:
            text += ", DOWN"
        elif z.spof:
            text += ", a single point of failure"
        for dep in z.dependencies or []:
            text += f"; {dep.service}: {dep.ready_endpoints_left} ready endpoint(s) left"
        if z.absorbable is False:
            text += f"; no room for what would move ({z.would_stay_pending or 0} would stay Pending)"
        out.append(ZoneWhatIf(z.zone, text))
    return out
