"""Which zones are out of service, and why.

A zone is out of service when it is lost (no Ready node), full (pods of the site stuck Pending as
unschedulable for longer than spec.failover.unschedulableAfterSeconds) or evacuated on purpose
(spec.failover.evacuate). Placement moves the share of every out-of-service zone to the others,
whatever the cause; only an evacuated zone is also emptied, and only once the capacity that
replaces it is ready elsewhere.

Pure: pods, zones, the spec and the time go in; causes, evacuation outcomes and the delay until
the time alone changes one of them come out.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Literal

from spofless.core.model import times
from spofless.core.model.spec import Evacuation, ResilientSiteSpec
from spofless.core.model.status import Cause, EvacuationStatus, ZoneStatus
from spofless.core.observed.records import Pod, ZoneSilence
from spofless.core.placement import split
from spofless.core.placement.zones import ZoneSet


@dataclass(frozen=True)
class Triggers:
    causes: dict[str, Cause]  # zone -> why it is out of service now (zones in service are absent)
    full: dict[str, str]  # full zone -> what the scheduler says about its pods
    evacuating: tuple[str, ...]  # zones an accepted evacuation is emptying
    evacuations: list[EvacuationStatus]  # one per spec entry, in spec order
    wake_after: float | None  # seconds until time alone changes a trigger (a pod past the threshold, an `until`)


def back_since(previous: Mapping[str, ZoneStatus], now: datetime) -> dict[str, datetime]:
    """Per zone, the moment from which its unschedulable pods count: when it came back from an outage.
    Pods Pending through an outage (the replacements of evicted pods) schedule as the zone returns;
    they must not make it look full for a moment."""
    out: dict[str, datetime] = {}
    for name, zone in previous.items():
        if zone.cause == "ZoneLost" or (zone.cause is None and not zone.healthy):  # lost at the last look
            out[name] = now
        elif zone.cause is None and zone.since is not None:
            out[name] = zone.since
    return out


def full_zones(
    pods: Sequence[Pod],
    zones: Sequence[str],
    after_seconds: int,
    now: datetime,
    not_before: Mapping[str, datetime] | None = None,
) -> tuple[dict[str, str], float | None]:
    """Zones with a pod of the site unschedulable for `after_seconds` or longer (counted from
    `not_before` of its zone at the earliest), with the scheduler's message, and the seconds until
    the next pod still under the threshold crosses it.

    Only PodScheduled=False/Unschedulable counts: a pod pulling its image is scheduled already."""
    full: dict[str, str] = {}
    wake: list[float] = []
    for pod in pods:
        since = pod.unschedulable_since
        if not pod.unschedulable or pod.terminating or pod.zone not in zones or since is None:
            continue
        if not_before and pod.zone in not_before:
            since = max(since, not_before[pod.zone])
        waited = (now - since).total_seconds()
        if waited >= after_seconds:
            full.setdefault(pod.zone, pod.unschedulable_message or "the scheduler finds no node with room")
        else:
            wake.append(after_seconds - waited)
    return full, (min(wake) if wake else None)


def evacuations(
    entries: Sequence[Evacuation],
    zone_set: ZoneSet,
    min_zones: int,
    ready: Mapping[str, int],
    now: datetime,
) -> tuple[list[EvacuationStatus], float | None]:
    """Each entry's outcome, in spec order. An entry is refused when, with the entries accepted before
    it, fewer than minZones zones with Ready nodes would be left in service (unless forced); a
    refused entry never undoes one accepted before it."""
    out: list[EvacuationStatus] = []
    accepted: list[str] = []
    ends: list[float] = []
    for entry in entries:
        until = times.text(entry.until)
        if entry.zone not in zone_set.expected:
            out.append(EvacuationStatus(zone=entry.zone, until=entry.until, state="Refused",
                                        message=f"zone {entry.zone} is not one of the site's zones"))  # fmt: skip
            continue
        left_for = (entry.until - now).total_seconds()
        if left_for <= 0:
            out.append(EvacuationStatus(zone=entry.zone, until=entry.until, state="Ended",
                                        message=f"ended at {until}; zone {entry.zone} fails back"))  # fmt: skip
            continue
        left = [z for z in zone_set.expected if z not in zone_set.lost and z not in accepted and z != entry.zone]
        if len(left) < min_zones and not entry.force:
            names = ", ".join(left) or "none"
            message = (
                f"evacuating zone {entry.zone} would leave {len(left)} zone(s) in service ({names}), "
                f"fewer than minZones {min_zones}; set force: true on the entry to evacuate anyway"
            )
            out.append(EvacuationStatus(zone=entry.zone, until=entry.until, state="Refused", message=message))
            continue
        accepted.append(entry.zone)
        ends.append(left_for)
        emptied = ready.get(entry.zone, 0) == 0
        state: Literal["Evacuated", "Evacuating"] = "Evacuated" if emptied else "Evacuating"
        message = (
            f"zone {entry.zone} runs no ready replica of the site until {until}"
            if emptied
            else f"moving zone {entry.zone}'s replicas out until {until}: they go once as many are ready elsewhere"
        )
        out.append(EvacuationStatus(zone=entry.zone, until=entry.until, state=state, message=message))
    return out, (min(ends) if ends else None)


@dataclass(frozen=True)
class Observation:
    """The zones as this pass sees them: the site's pods, its ready pods per zone, and the zones as the
    last status reported them."""

    pods: Sequence[Pod]
    ready: Mapping[str, int]
    previous: Mapping[str, ZoneStatus]
    silent: Silent | None = None  # the zone the cluster judged silent, as this site takes it


@dataclass(frozen=True)
class Silent:
    """The silent zone this site acts on, or waits for (spec.failover.silentZone.afterSeconds)."""

    zone: str
    acting: bool  # silent for at least afterSeconds: out of service now
    wait: float  # seconds until it acts, while not acting yet


def silent_zone(spec: ResilientSiteSpec, zone_set: ZoneSet, silence: ZoneSilence | None) -> Silent | None:
    """The zone the cluster judged silent, if this site runs there, has not opted out, and looks at zones
    through the same key. A lost zone is lost, not silent: NotReady says more than silence."""
    rule = spec.failover.silent_zone
    if silence is None or silence.zone is None or not rule.enabled or silence.topology_key != spec.topology_key:
        return None
    if silence.zone not in zone_set.expected or silence.zone in zone_set.lost:
        return None
    wait = rule.after_seconds - silence.silent_for
    return Silent(silence.zone, wait <= 0, max(0.0, wait))


def assess(spec: ResilientSiteSpec, zone_set: ZoneSet, seen: Observation, now: datetime) -> Triggers:
    """Why each zone is out of service, if it is. A lost zone is named lost whatever else holds."""
    pods, ready, previous = seen.pods, seen.ready, seen.previous
    threshold = spec.failover.unschedulable_after_seconds
    full, wake_full = full_zones(pods, zone_set.expected, threshold, now, back_since(previous, now))
    outcomes, wake_until = evacuations(spec.failover.evacuate, zone_set, spec.min_zones, ready, now)
    # A lost zone is never emptied, evacuated or not: its pods may still serve behind a partition.
    evacuating = tuple(
        e.zone for e in outcomes if e.state in ("Evacuating", "Evacuated") and e.zone not in zone_set.lost
    )
    causes: dict[str, Cause] = {}
    silent = seen.silent.zone if seen.silent is not None and seen.silent.acting else None
    for zone in zone_set.expected:
        if zone in zone_set.lost:
            causes[zone] = "ZoneLost"
        elif zone == silent:
            causes[zone] = "ZoneSilent"
        elif zone in evacuating:
            causes[zone] = "Evacuated"
        elif zone in full:
            causes[zone] = "ZoneFull"
    wake_silent = seen.silent.wait if seen.silent is not None and not seen.silent.acting else None
    wakes = [w for w in (wake_full, wake_until, wake_silent) if w is not None]
    return Triggers(
        causes=causes,
        full={z: m for z, m in full.items() if causes.get(z) == "ZoneFull"},
        evacuating=evacuating,
        evacuations=outcomes,
        wake_after=min(wakes) if wakes else None,
    )


def drain(plan: split.Placement, evacuating: Sequence[str], ready: Mapping[str, int], total: int) -> split.Placement:
    """Empties the evacuated zones as fast as the capacity replacing them is ready elsewhere, never
    faster: an evacuated zone keeps `total` minus the ready replicas of the other zones (never more
    than it has), so ready capacity stays at `total` throughout. It never grows back meanwhile."""
    if not evacuating:
        return plan
    desired = dict(plan.desired)
    target = dict(plan.target)
    elsewhere = sum(n for z, n in ready.items() if z not in evacuating and z in desired)
    short = max(0, total - elsewhere)
    for zone in sorted(evacuating):
        if zone not in desired:
            continue
        # place() never shrinks an out-of-service zone, so desired is at least what the zone has now.
        keep = min(short, ready.get(zone, 0), desired[zone])
        desired[zone] = keep
        target[zone] = 0
        short -= keep
    return replace(plan, desired=desired, target=target)
