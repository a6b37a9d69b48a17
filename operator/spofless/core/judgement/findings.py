"""The site's own judgement: its ready pods per zone, its single points of failure with a message a
person understands, and what losing each zone would leave."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from spofless.core.judgement import rules
from spofless.core.judgement.headroom import Verdict
from spofless.core.model.spec import ResilientSiteSpec
from spofless.core.model.status import Finding, ZoneLoss
from spofless.core.model.template import containers_without_readiness_probe
from spofless.core.observed.records import Observed, ready_nodes, serving
from spofless.core.placement.zones import ZoneSet

# The site's ready pods (records.serving), per zone and per node.
Readiness = rules.Spread


def readiness(observed: Observed, zones: list[str], silent: str | None = None) -> Readiness:
    """The site's ready pods (`records.serving`) per zone and per node; every zone listed. Pods of a
    zone judged silent do not count: their kubelet is gone, whatever their Ready still says."""
    ready = ready_nodes(observed.nodes)
    counted = (p for p in observed.pods if serving(p, ready) and (silent is None or p.zone != silent))
    return rules.spread_of(((p.zone, p.node) for p in counted), zones)


def _names(items: list[str]) -> str:
    return ", ".join(items)


def findings(
    spec: ResilientSiteSpec,
    zone_set: ZoneSet,
    ready: Readiness,
    observed: Observed,
    service_name: str,
) -> list[Finding]:
    """Every single point of failure of the site, most severe first, then warnings."""
    out = [_finding(w) for w in rules.replica_weaknesses(ready, spec.min_zones)]
    out.extend(_topology(spec, zone_set))
    out.extend(_service(observed, service_name, len(zone_set.expected)))
    out.extend(_budgets(spec, observed, service_name))
    out.extend(readiness_findings(spec.template))
    return out


def _topology(spec: ResilientSiteSpec, zone_set: ZoneSet) -> list[Finding]:
    if len(zone_set.expected) == 1:
        zone = zone_set.expected[0]
        return [
            Finding(
                scope="Topology",
                name=zone,
                message=f"the site runs in one zone only ({zone}): losing it loses the site",
            )
        ]
    if len(zone_set.cluster_zones) < spec.min_zones:
        have = _names(list(zone_set.cluster_zones)) or "none"
        return [
            Finding(
                scope="Topology",
                name="cluster",
                message=f"the cluster has {len(zone_set.cluster_zones)} zone(s) with Ready nodes ({have}), fewer than minZones {spec.min_zones}",
            )
        ]
    return []


def _service(observed: Observed, name: str, expected_zones: int) -> list[Finding]:
    ready = rules.spread_of((e.zone, e.node) for e in observed.endpoints if e.ready)
    return [_finding(w) for w in rules.endpoint_weaknesses(name, ready, expected_zones > 1)]


def _finding(weakness: rules.Weakness) -> Finding:
    return Finding(scope=weakness.scope, name=weakness.name, message=weakness.message)


def _budgets(spec: ResilientSiteSpec, observed: Observed, name: str) -> list[Finding]:
    have = any(c.kind == "PodDisruptionBudget" and c.name == name for c in observed.children)
    out = (
        []
        if have
        else [
            Finding(
                scope="DisruptionBudget",
                name=name,
                severity="Warning",
                message=f"the site has no PodDisruptionBudget {name} yet",
            )
        ]
    )
    if rules.budget_blocks_evictions(spec.disruption_budget.max_unavailable, None, spec.replicas):
        out.append(
            Finding(
                scope="DisruptionBudget",
                name="maxUnavailable",
                severity="Warning",
                message="maxUnavailable 0 forbids every voluntary disruption: node drains will hang",
            )
        )
    return out


def zone_loss(
    spec: ResilientSiteSpec, zones: tuple[str, ...], ready: Readiness, room: dict[str, Verdict] | None = None
) -> list[ZoneLoss]:
    """What-if: ready replicas and zones left if each zone were lost now, and whether the other
    zones have room for what would move (`room`, from the headroom; absent where unknown)."""
    out = []
    for zone in zones:
        left = ready.left_after_losing(zone)
        zones_left = len([z for z in ready.zones if z != zone])
        out.append(
            ZoneLoss(
                zone=zone,
                ready_replicas_left=left,
                ready_zones_left=zones_left,
                spof=left <= 1 or zones_left < spec.min_zones,
                absorbable=verdict.absorbable if (verdict := (room or {}).get(zone)) else None,
                would_stay_pending=verdict.would_stay_pending if verdict else None,
            )
        )
    return out


def readiness_findings(template: Mapping[str, Any]) -> list[Finding]:
    """A Warning per template whose containers lack a readiness probe: every ready count is then optimistic."""
    missing = containers_without_readiness_probe(template)
    if not missing:
        return []
    return [
        Finding(
            scope="Readiness",
            name=", ".join(missing),
            severity="Warning",
            message=f"container(s) {', '.join(missing)} have no readiness probe: a pod counts as ready once it "
            "has started, so ready counts and the single-point-of-failure picture are optimistic",
        )
    ]
