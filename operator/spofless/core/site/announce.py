"""The events of a pass, all of them: what changed between the last status and this one, said once.

A zone lost or back, replicas moved (Failover, Failback, Scaled), a new single point of failure,
Redundant again, capacity short or restored, a zone full or with room again, an evacuation
accepted, refused or ended, the minZones floor, zone-local traffic set or lifted, a spec that cannot
be carried out; and the rollout's own (started, a zone, baked, halted, rolled back, complete), which
its state machine says as it moves.
"""

from __future__ import annotations

from spofless.core.model.events import Event
from spofless.core.model.status import ResilientSiteStatus
from spofless.core.observed.records import Observed
from spofless.core.placement import split, zones
from spofless.core.site.report import Facts


def events(facts: Facts, new: ResilientSiteStatus) -> list[Event]:
    """Every event of this pass, in the order a person reads them."""
    prev, seen, placed, problem = facts.run.prev, facts.seen, facts.placed, facts.problem
    if seen is None or placed is None:
        assert problem is not None
        return _warn_once(prev, problem.reason, problem.message)
    zone_events = _zones(prev, seen.zone_set)
    if problem is not None:  # zones still announce their loss and return; the rest waits for the fix
        return [*zone_events, *_warn_once(prev, problem.reason, problem.message)]
    out = [
        *zone_events,
        *_silences(prev, new, facts.observed),
        *_moves(prev, placed.plan, seen.current),
        *_single_points(prev, new),
        *_capacity(prev, new),
        *_full_zones(prev, new, seen.triggered.full),
        *_evacuations(prev, new),
        *_floor(prev, new),
        *_traffic(prev, new),
    ]
    if facts.template_refused and facts.rollout is not None:
        out += _warn_once(prev, "ApplyRefused", facts.rollout.step.status.message)
    if facts.rollout is not None:
        out += facts.rollout.step.events
    return out


def _warn_once(prev: ResilientSiteStatus, reason: str, message: str) -> list[Event]:
    """A Warning event, unless the status already says the same."""
    was = next((c for c in prev.conditions if c.type == "Reconciled"), None)
    if was is not None and was.status == "False" and was.message == message:
        return []
    return [Event("Warning", reason, message)]


def _zones(prev: ResilientSiteStatus, zone_set: zones.ZoneSet) -> list[Event]:
    out: list[Event] = []
    before = {z.name: z.healthy for z in prev.zones}
    for zone in zone_set.expected:
        health = zone_set.health[zone]
        was = before.get(zone)
        if was is True and not health.healthy:
            out.append(Event("Warning", "ZoneLost", f"zone {zone} lost: none of its {health.nodes} node(s) is Ready"))
        elif was is False and health.healthy:
            out.append(Event("Normal", "ZoneRecovered", f"zone {zone} is back: {health.ready_nodes} node(s) Ready"))
    return out


def _silences(prev: ResilientSiteStatus, new: ResilientSiteStatus, observed: Observed) -> list[Event]:
    """A zone judged silent, its end, and a silence a kubelet contradicted (it wrote a pod's Ready back)."""
    out: list[Event] = []
    before = {z.name: z.cause for z in prev.zones}
    silence = observed.silence
    for zone in new.zones:
        was = before.get(zone.name)
        if zone.cause == "ZoneSilent" and was != "ZoneSilent":
            seconds = silence.silent_for if silence is not None else 0.0
            out.append(Event("Warning", "ZoneSilent", f"zone {zone.name} is silent: no node of it has renewed its "
                             f"Lease for {seconds:.0f} s; the site's pods there leave its Service, replicas move"))  # fmt: skip
        elif was == "ZoneSilent" and zone.cause != "ZoneSilent":
            if silence is not None and zone.name in silence.held_off:
                out.append(Event("Warning", "ZoneSilenceContradicted", f"a kubelet in zone {zone.name} wrote a pod's "
                                 "Ready back: the zone is alive; it is not judged silent again for a while"))  # fmt: skip
            else:
                out.append(Event("Normal", "ZoneSilenceEnded", f"zone {zone.name} renews its Leases again"))
    return out


def _moves(prev: ResilientSiteStatus, plan: split.Placement, current: dict[str, int | None]) -> list[Event]:
    changes = {z: (c, plan.desired[z]) for z, c in current.items() if c is not None and c != plan.desired[z]}
    if not changes:
        return []
    # A zone growing past its even share takes over; one growing back to it (after an evacuation) returns.
    over = any(new > old and new > plan.base[z] for z, (old, new) in changes.items())
    reason = "Failover" if plan.failover_active and over else "Failback"
    was_active = any(c.type == "FailoverActive" and c.status == "True" for c in prev.conditions)
    if not plan.failover_active and not was_active:
        reason = "Scaled"
    moves = ", ".join(f"{z} {old}->{new}" for z, (old, new) in sorted(changes.items()))
    return [Event("Normal", reason, f"replicas per zone: {moves}")]


def _single_points(prev: ResilientSiteStatus, new: ResilientSiteStatus) -> list[Event]:
    """A new single point of failure (not while the first rollout runs), and Redundant again."""
    out: list[Event] = []
    if new.phase != "Pending":
        old = {(f.scope, f.name) for f in prev.single_points_of_failure if f.severity == "SPOF"}
        for finding in new.single_points_of_failure:
            if finding.severity == "SPOF" and (finding.scope, finding.name) not in old:
                out.append(Event("Warning", "SinglePointOfFailure", f"{finding.scope}: {finding.message}"))
    if new.phase == "Redundant" and prev.phase != "Redundant":
        out.append(Event("Normal", "Redundant", new.message))
    return out


def _capacity(prev: ResilientSiteStatus, new: ResilientSiteStatus) -> list[Event]:
    """CapacityShort when replicas start waiting for room, CapacityRestored when none waits any more."""
    was = next((c for c in prev.conditions if c.type == "CapacityShort"), None)
    now = next((c for c in new.conditions if c.type == "CapacityShort"), None)
    if now is None:
        return []
    if now.status == "True" and (was is None or was.status != "True"):
        return [Event("Warning", "CapacityShort", now.message)]
    if now.status == "False" and was is not None and was.status == "True":
        return [Event("Normal", "CapacityRestored", "every replica is scheduled again")]
    return []


def _full_zones(prev: ResilientSiteStatus, new: ResilientSiteStatus, full: dict[str, str]) -> list[Event]:
    out: list[Event] = []
    before = {z.name: z.cause for z in prev.zones}
    for zone in new.zones:
        was = before.get(zone.name)
        if zone.cause == "ZoneFull" and was != "ZoneFull":
            detail = full.get(zone.name, "")
            out.append(Event("Warning", "ZoneFull", f"zone {zone.name} has no room for the site's pods: {detail}"))
        elif was == "ZoneFull" and zone.cause != "ZoneFull":
            out.append(Event("Normal", "ZoneHasRoom", f"zone {zone.name} schedules the site's pods again"))
    return out


def _evacuations(prev: ResilientSiteStatus, new: ResilientSiteStatus) -> list[Event]:
    out: list[Event] = []
    old = {(e.zone, e.until): e.state for e in prev.evacuations}
    for entry in new.evacuations:
        was = old.get((entry.zone, entry.until))
        if entry.state == was or (was, entry.state) == ("Evacuating", "Evacuated"):
            continue
        if entry.state == "Refused":
            out.append(Event("Warning", "EvacuationRefused", entry.message))
        elif entry.state in ("Evacuating", "Evacuated") and was not in ("Evacuating", "Evacuated"):
            out.append(Event("Normal", "Evacuating", entry.message))
        elif entry.state == "Ended" and was is not None:
            out.append(Event("Normal", "EvacuationEnded", entry.message))
    return out


def _floor(prev: ResilientSiteStatus, new: ResilientSiteStatus) -> list[Event]:
    floor = [f for f in new.single_points_of_failure if f.name == "spec.replicas"]
    had = any(f.name == "spec.replicas" for f in prev.single_points_of_failure)
    return [Event("Warning", "ReplicasBelowMinZones", floor[0].message)] if floor and not had else []


def _traffic(prev: ResilientSiteStatus, new: ResilientSiteStatus) -> list[Event]:
    old = next((c for c in prev.conditions if c.type == "TrafficDistribution"), None)
    now = next((c for c in new.conditions if c.type == "TrafficDistribution"), None)
    if now is not None and (old is None or old.status != now.status):
        reason = "TrafficDistributionSet" if now.status == "True" else "TrafficDistributionLifted"
        return [Event("Normal", reason, now.message)]
    return []
