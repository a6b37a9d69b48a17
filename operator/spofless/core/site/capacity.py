"""What the status and the events say about the site's scale and its capacity triggers: the /scale
fields, why each zone is out of service, the evacuations, the minZones floor and the traffic mode."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from spofless.core.model.events import Event
from spofless.core.model.spec import ResilientSiteSpec
from spofless.core.model.status import CAUSE_WORDS, Cause, ResilientSiteStatus
from spofless.core.placement import scale, split
from spofless.core.placement.traffic import Traffic
from spofless.core.placement.triggers import Triggers

_ORDER: dict[Cause, int] = {"ZoneLost": 0, "ZoneFull": 1, "Evacuated": 2}

# A condition to set (type, ok, reason, message), or to drop (type, None, "", "").
ConditionUpdate = tuple[str, bool | None, str, str]


def annotate(
    status: ResilientSiteStatus,
    site: str,
    spec: ResilientSiteSpec,
    triggered: Triggers,
    failback_waiting: Sequence[str],
    plan: split.Placement,
    traffic: Traffic | None,
) -> list[ConditionUpdate]:
    """Adds the scale fields, zone causes, evacuations and traffic mode to the status _status made;
    returns the conditions to set or drop."""
    status.selector = scale.selector(site)
    status.replicas = scale.current(plan, [*triggered.causes, *failback_waiting])
    for entry in status.zones:
        entry.cause = triggered.causes.get(entry.name)
    status.evacuations = triggered.evacuations
    if (floor := scale.floor_finding(spec)) is not None:
        status.single_points_of_failure = [*status.single_points_of_failure, floor]
    non_lost: dict[str, Cause] = {z: c for z, c in triggered.causes.items() if c != "ZoneLost"}
    if non_lost and status.phase == "Redundant":
        zone, cause = _first(non_lost)
        status.phase = "Degraded"
        status.message = f"zone {zone} {CAUSE_WORDS[cause]}; {status.message}"
    updates: list[ConditionUpdate] = []
    if plan.failover_active and triggered.causes:
        zone, cause = _first(triggered.causes)
        where = ", ".join(f"{z} {n:+d}" for z, n in sorted(plan.moved.items()))
        why = ", ".join(f"{z} {CAUSE_WORDS[c]}" for z, c in sorted(triggered.causes.items()))
        detail = f" ({triggered.full[zone]})" if cause == "ZoneFull" and zone in triggered.full else ""
        updates.append(
            ("FailoverActive", True, cause, f"zone(s) out of service: {why}{detail}; replicas moved: {where}")
        )
    updates.append(_evacuation_condition(triggered))
    status.traffic_distribution = (traffic.value if traffic is not None else None) or ""
    if traffic is None:
        updates.append(("TrafficDistribution", None, "", ""))
    else:
        updates.append(("TrafficDistribution", traffic.value is not None, traffic.reason, traffic.message))
    return updates


def _first(causes: Mapping[str, Cause]) -> tuple[str, Cause]:
    return min(causes.items(), key=lambda zc: (_ORDER[zc[1]], zc[0]))


def _evacuation_condition(triggered: Triggers) -> ConditionUpdate:
    if not triggered.evacuations:
        return ("Evacuation", None, "", "")
    refused = [e for e in triggered.evacuations if e.state == "Refused"]
    if refused:
        return ("Evacuation", False, "Refused", "; ".join(e.message for e in refused))
    active = [e for e in triggered.evacuations if e.state in ("Evacuating", "Evacuated")]
    if active:
        reason = "Evacuating" if any(e.state == "Evacuating" for e in active) else "Evacuated"
        return ("Evacuation", True, reason, "; ".join(e.message for e in active))
    return ("Evacuation", True, "Ended", "every evacuation has ended")


def events(prev: ResilientSiteStatus, new: ResilientSiteStatus, triggered: Triggers) -> list[Event]:
    """The events of the transitions this status makes: a zone full or with room again,
    an evacuation accepted, refused or ended, the minZones floor, zone-local traffic set or lifted."""
    out: list[Event] = []
    before = {z.name: z.cause for z in prev.zones}
    for zone in new.zones:
        was = before.get(zone.name)
        if zone.cause == "ZoneFull" and was != "ZoneFull":
            detail = triggered.full.get(zone.name, "")
            out.append(Event("Warning", "ZoneFull", f"zone {zone.name} has no room for the site's pods: {detail}"))
        elif was == "ZoneFull" and zone.cause != "ZoneFull":
            out.append(Event("Normal", "ZoneHasRoom", f"zone {zone.name} schedules the site's pods again"))
    old_evac = {(e.zone, e.until): e.state for e in prev.evacuations}
    for entry in new.evacuations:
        was_state = old_evac.get((entry.zone, entry.until))
        if entry.state == was_state or (was_state, entry.state) == ("Evacuating", "Evacuated"):
            continue
        if entry.state == "Refused":
            out.append(Event("Warning", "EvacuationRefused", entry.message))
        elif entry.state in ("Evacuating", "Evacuated") and was_state not in ("Evacuating", "Evacuated"):
            out.append(Event("Normal", "Evacuating", entry.message))
        elif entry.state == "Ended" and was_state is not None:
            out.append(Event("Normal", "EvacuationEnded", entry.message))
    floor = [f for f in new.single_points_of_failure if f.name == "spec.replicas"]
    had_floor = any(f.name == "spec.replicas" for f in prev.single_points_of_failure)
    if floor and not had_floor:
        out.append(Event("Warning", "ReplicasBelowMinZones", floor[0].message))
    old_traffic = next((c for c in prev.conditions if c.type == "TrafficDistribution"), None)
    new_traffic = next((c for c in new.conditions if c.type == "TrafficDistribution"), None)
    if new_traffic is not None and (old_traffic is None or old_traffic.status != new_traffic.status):
        reason = "TrafficDistributionSet" if new_traffic.status == "True" else "TrafficDistributionLifted"
        out.append(Event("Normal", reason, new_traffic.message))
    return out
