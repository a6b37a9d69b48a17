"""What losing one zone would do to every workload and Service in scope: what would be left, and
what would go down. Pure: the audit's inventory (and the sites' statuses) in, an answer out.

The answer is the audit itself, run twice: on the cluster as it is, and on the same cluster with
every node of the zone NotReady. So "left on one pillar" after the loss means exactly what a SPOF
means in the audit and the operator's status (`rules`). A ResilientSite's own status adds what
only the operator knows: its dependencies' endpoints left, and whether the replicas it would move
find room.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from typing import Literal

from spofless.core.judgement import audit
from spofless.core.observed.inventory import Inventory, Missing
from spofless.core.observed.sites import SiteRecord

Verdict = Literal["Down", "AtRisk", "Stays", "AlreadyDown"]


class UnknownZone(ValueError):
    """The zone to lose has no Ready node: it is no zone of the cluster, or it is lost already."""

    def __init__(self, zone: str, zones: tuple[str, ...]) -> None:
        have = ", ".join(zones) or "none"
        super().__init__(f"zone {zone} has no Ready node in scope (zones with Ready nodes: {have})")
        self.zone, self.zones = zone, zones


@dataclass(frozen=True)
class Outcome:
    """One workload or Service after the loss."""

    kind: str
    namespace: str
    name: str
    ready_now: int | None  # None: its pods could not be read
    ready_left: int | None
    zones_left: int | None
    verdict: Verdict | None  # None: unknown (its pods could not be read)
    standing_on: str  # the single point it would be left on, or why it would go down ("" if none)
    notes: tuple[str, ...] = ()  # what the operator's status adds for a ResilientSite


@dataclass(frozen=True)
class WhatIf:
    zone: str
    zones_left: tuple[str, ...]
    workloads: tuple[Outcome, ...]
    services: tuple[Outcome, ...]
    cluster: tuple[audit.AuditFinding, ...]  # single points the loss would make of the cluster itself
    missing: tuple[Missing, ...]

    def outcomes(self) -> tuple[Outcome, ...]:
        return self.workloads + self.services

    def count(self, verdict: Verdict) -> int:
        return sum(1 for o in self.outcomes() if o.verdict == verdict)

    def fails(self, threshold: Literal["Down", "AtRisk"] | None) -> bool:
        """True when the loss would take something down (or, from AtRisk, leave it on one pillar)."""
        worse: set[Verdict | None] = {"Down"} if threshold == "Down" else {"Down", "AtRisk"}
        return threshold is not None and any(o.verdict in worse for o in self.outcomes())


def lose(inv: Inventory, zone: str) -> Inventory:
    """The inventory as it would be with every node of `zone` NotReady (and its endpoints unready)."""
    key = inv.topology_key
    nodes = None if inv.nodes is None else [replace(n, ready=False) if n.zone(key) == zone else n for n in inv.nodes]
    endpoints = None if inv.endpoints is None else [
        replace(s, endpoints=tuple(replace(e, ready=False) if e.zone == zone else e for e in s.endpoints))
        for s in inv.endpoints
    ]  # fmt: skip
    return replace(inv, nodes=nodes, endpoints=endpoints)


def whatif(
    inv: Inventory,
    zone: str,
    selected: Iterable[tuple[str, str, str]] | None = None,
    sites: Sequence[SiteRecord] = (),
) -> WhatIf:
    """What losing `zone` would leave of each workload and Service the audit would report on."""
    chosen = list(selected) if selected is not None else None
    now = audit.audit(inv, chosen)
    if zone not in now.zones:
        raise UnknownZone(zone, now.zones)
    after = audit.audit(lose(inv, zone), chosen)
    before = {(w.kind, w.namespace, w.name): w for w in now.workloads}
    status_of = {(s.namespace, s.name): s for s in sites}
    workloads = tuple(
        _with_site(_workload(before[(w.kind, w.namespace, w.name)], w), status_of.get((w.namespace, w.name)), zone)
        for w in after.workloads
        if w.replicas > 0
    )
    services_now = {(s.namespace, s.name): s for s in now.services}
    services = tuple(_service(services_now[(s.namespace, s.name)], s) for s in after.services)
    had = {(f.scope, f.name) for f in now.findings}
    cluster = tuple(f for f in after.findings if f.scope == "Topology" and (f.scope, f.name) not in had)
    return WhatIf(zone, after.zones, workloads, services, cluster, now.missing)


def _verdict(ready_now: int, ready_left: int, finding: audit.AuditFinding | None) -> Verdict:
    if ready_now == 0:
        return "AlreadyDown"
    if ready_left == 0:
        return "Down"
    return "AtRisk" if finding is not None else "Stays"


def _workload(now: audit.WorkloadReport, after: audit.WorkloadReport) -> Outcome:
    if now.ready is None or after.ready is None:
        return Outcome(now.kind, now.namespace, now.name, None, None, None, None, "")
    verdict = _verdict(now.ready.total, after.ready.total, after.finding)
    standing_on = after.finding.message if after.finding and verdict == "AtRisk" else ""
    return Outcome(now.kind, now.namespace, now.name, now.ready.total, after.ready.total, len(after.ready.zones),
                   verdict, standing_on)  # fmt: skip


def _service(now: audit.ServiceReport, after: audit.ServiceReport) -> Outcome:
    verdict = _verdict(now.ready.total, after.ready.total, after.finding)
    standing_on = after.finding.message if after.finding and verdict == "AtRisk" else ""
    return Outcome("Service", now.namespace, now.name, now.ready.total, after.ready.total, len(after.ready.zones),
                   verdict, standing_on)  # fmt: skip


def _with_site(outcome: Outcome, site: SiteRecord | None, zone: str) -> Outcome:
    """A ResilientSite's row, with what its status says of this zone's loss: the replicas it would
    move and whether they find room, and its dependencies' endpoints left (down without them)."""
    if outcome.kind != "ResilientSite" or site is None:
        return outcome
    notes = [_moves(site, zone)]
    loss = site.loss_of(zone)
    if loss is None:
        return replace(outcome, notes=tuple(notes))
    deps = loss.dependencies or []
    notes += [f"dependency {d.service}: {d.ready_endpoints_left} ready endpoint(s) left" for d in deps]
    if loss.down and outcome.verdict in ("Stays", "AtRisk"):
        empty = ", ".join(d.service for d in deps if d.ready_endpoints_left == 0) or "a required dependency"
        return replace(outcome, verdict="Down", standing_on=f"{empty}: no ready endpoint left", notes=tuple(notes))
    return replace(outcome, notes=tuple(notes))


def _moves(site: SiteRecord, zone: str) -> str:
    share = next((z.desired_replicas for z in site.zones if z.name == zone), 0)
    if not site.failover:
        return "failover is off: nothing moves"
    if share == 0:
        return f"nothing to move: no replica of the site is asked of {zone}"
    loss = site.loss_of(zone)
    room = (
        "room unknown (the nodes report no allocatable resources)"
        if loss is None or loss.absorbable is None
        else "the other zones have room for them"
        if loss.absorbable
        else f"no room: {loss.would_stay_pending or 0} would stay Pending"
    )
    return f"spofless moves its {share} replica(s) of {zone} to the other zones; {room}"
