"""From what is observed to what the status says: readiness per zone, single points of
failure with a message a person understands, and what losing each zone would leave."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

from spofless.core import api
from spofless.core.headroom import Verdict
from spofless.core.observed import Observed, Pod
from spofless.core.zones import ZoneSet


@dataclass(frozen=True)
class Readiness:
    """Ready pods of the site: Ready themselves, on a node that is Ready, not terminating."""

    per_zone: dict[str, int]
    per_node: dict[str, int]

    @property
    def total(self) -> int:
        return sum(self.per_zone.values())

    @property
    def zones(self) -> list[str]:
        return sorted(z for z, n in self.per_zone.items() if n > 0)


def readiness(observed: Observed, zones: list[str]) -> Readiness:
    ready_nodes = {n.name for n in observed.nodes if n.ready}

    def counts(pod: Pod) -> bool:
        return pod.ready and not pod.terminating and pod.node in ready_nodes

    ready = [p for p in observed.pods if counts(p)]
    per_zone = {z: 0 for z in zones} | Counter(p.zone for p in ready)
    return Readiness(per_zone=dict(per_zone), per_node=dict(Counter(p.node or "" for p in ready)))


def _names(items: list[str]) -> str:
    return ", ".join(items)


def findings(
    spec: api.ResilientSiteSpec,
    zone_set: ZoneSet,
    ready: Readiness,
    observed: Observed,
    service_name: str,
) -> list[api.Finding]:
    """Every single point of failure of the site, most severe first, then warnings."""
    out: list[api.Finding] = []
    total = ready.total
    if total == 0:
        out.append(api.Finding(scope="Replica", name="site", message="no ready replica: the site is down"))
    elif total == 1:
        pod = next(iter(ready.per_node))
        out.append(
            api.Finding(
                scope="Replica", name=pod or "replica", message="only one replica is ready: losing it loses the site"
            )
        )
    ready_zones = ready.zones
    if total > 0 and len(ready_zones) < spec.min_zones:
        where = ready_zones[0] if len(ready_zones) == 1 else _names(ready_zones)
        message = (
            f"all {total} ready replicas run in zone {where}"
            if len(ready_zones) == 1
            else f"ready replicas run in {len(ready_zones)} zones ({where}), fewer than minZones {spec.min_zones}"
        )
        out.append(api.Finding(scope="Zone", name=where, message=message))
    if total > 1 and len(ready.per_node) == 1:
        node = next(iter(ready.per_node))
        out.append(api.Finding(scope="Node", name=node, message=f"all {total} ready replicas run on node {node}"))
    out.extend(_topology(spec, zone_set))
    out.extend(_service(observed, service_name, len(zone_set.expected)))
    out.extend(_budgets(spec, zone_set, observed))
    return out


def _topology(spec: api.ResilientSiteSpec, zone_set: ZoneSet) -> list[api.Finding]:
    if len(zone_set.expected) == 1:
        zone = zone_set.expected[0]
        return [
            api.Finding(
                scope="Topology",
                name=zone,
                message=f"the site runs in one zone only ({zone}): losing it loses the site",
            )
        ]
    if len(zone_set.cluster_zones) < spec.min_zones:
        have = _names(list(zone_set.cluster_zones)) or "none"
        return [
            api.Finding(
                scope="Topology",
                name="cluster",
                message=f"the cluster has {len(zone_set.cluster_zones)} zone(s) with Ready nodes ({have}), fewer than minZones {spec.min_zones}",
            )
        ]
    return []


def _service(observed: Observed, name: str, expected_zones: int) -> list[api.Finding]:
    ready = [e for e in observed.endpoints if e.ready]
    if not ready:
        return [api.Finding(scope="Service", name=name, message=f"Service {name} has no ready endpoint")]
    zones = sorted({e.zone or "" for e in ready})
    if expected_zones > 1 and len(zones) == 1:
        return [
            api.Finding(
                scope="Service",
                name=name,
                message=f"Service {name} has ready endpoints in zone {zones[0] or '(unlabelled)'} only",
            )
        ]
    return []


def _budgets(spec: api.ResilientSiteSpec, zone_set: ZoneSet, observed: Observed) -> list[api.Finding]:
    have = {c.zone for c in observed.children if c.kind == "PodDisruptionBudget"}
    out = [
        api.Finding(
            scope="DisruptionBudget",
            name=zone,
            severity="Warning",
            message=f"zone {zone} has no PodDisruptionBudget yet",
        )
        for zone in zone_set.expected
        if zone not in have
    ]
    if spec.disruption_budget.max_unavailable == 0:
        out.append(
            api.Finding(
                scope="DisruptionBudget",
                name="maxUnavailable",
                severity="Warning",
                message="maxUnavailable 0 forbids every voluntary disruption: node drains will hang",
            )
        )
    return out


def zone_loss(
    spec: api.ResilientSiteSpec, zones: tuple[str, ...], ready: Readiness, room: dict[str, Verdict] | None = None
) -> list[api.ZoneLoss]:
    """What-if: ready replicas and zones left if each zone were lost now, and whether the other
    zones have room for what would move (`room`, from the headroom; absent where unknown)."""
    out = []
    for zone in zones:
        left = ready.total - ready.per_zone.get(zone, 0)
        zones_left = len([z for z in ready.zones if z != zone])
        out.append(
            api.ZoneLoss(
                zone=zone,
                ready_replicas_left=left,
                ready_zones_left=zones_left,
                spof=left <= 1 or zones_left < spec.min_zones,
                absorbable=verdict.absorbable if (verdict := (room or {}).get(zone)) else None,
                would_stay_pending=verdict.would_stay_pending if verdict else None,
            )
        )
    return out
