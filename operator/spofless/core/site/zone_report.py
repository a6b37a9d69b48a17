"""The cheap zone-health report: what the engine can publish to every site of a lost (or returning)
zone, in one small patch, before their full passes run.

Pure, and it never looks at more than it is given: it says what the full `decide` would say of the
fields it touches whenever the zones' health alone tells it, and leaves a field as it was where not.
(A pass that crashed is reported by `crash`.)
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pydantic import ValidationError

from spofless.core.judgement import rules
from spofless.core.model.spec import ResilientSiteSpec
from spofless.core.model.status import Cause, ResilientSiteStatus, ZoneStatus
from spofless.core.site import memory, report


@dataclass(frozen=True)
class ZoneCount:
    """A zone of the cluster as the engine counts it, by the site's topology key."""

    nodes: int
    ready_nodes: int


def zone_report(raw_status: Any, raw_spec: Any, cluster: Mapping[str, ZoneCount], now: datetime) -> dict[str, Any]:
    """The previous status with the zones' health brought up to date (zones[].healthy, nodes,
    readyNodes, since, cause, goneSince; a lost zone's readyReplicas 0), and the phase, message,
    spof, readyReplicas and readyZones that follow, as `decide` would say them.

    Left as they were: everything, when the spec cannot be read or the site is Invalid (the full pass
    says why); the phase and its message when no zone changed, or when a zone lost some nodes but not
    all (which of its pods still count is unknown); the cause and since of a returning zone that an
    evacuation names (whether it is accepted is the full pass's to say). Zones the status does not
    list are not added. Like `decide`, the status returned has no status.kopf."""
    prev, _ = memory.previous_status(raw_status)
    try:
        spec = ResilientSiteSpec.model_validate(raw_spec)
    except ValidationError:
        return prev.wire()
    if prev.phase == "Invalid" or not prev.zones:
        return prev.wire()
    out = prev.model_copy(deep=True)
    changed, uncertain = False, False
    evacuated = {e.zone for e in spec.failover.evacuate if e.until > now}
    for entry in out.zones:
        count = cluster.get(entry.name, ZoneCount(0, 0))
        healthy = count.ready_nodes > 0
        if count.ready_nodes < entry.ready_nodes and healthy:
            uncertain = True  # some of its nodes went: which of its ready pods were on them is unknown
        if healthy != entry.healthy:
            changed = True
            _turn(entry, healthy, entry.name in evacuated, now)
        entry.nodes, entry.ready_nodes = count.nodes, count.ready_nodes
        entry.gone_since = (entry.gone_since or now) if count.nodes == 0 else None
    if not changed or uncertain:
        return out.wire()
    _judge(out, prev, spec, cluster)
    return out.wire()


def _turn(entry: ZoneStatus, healthy: bool, evacuated: bool, now: datetime) -> None:
    """A zone lost, or back: its cause and since, as the full pass sets them."""
    in_service = entry.healthy and entry.cause is None
    entry.healthy = healthy
    if not healthy:
        entry.cause = "ZoneLost"
        entry.since = now if in_service else entry.since
        entry.ready_replicas = 0  # a pod on a node that is not Ready does not count
    elif not evacuated:  # back in service: its unschedulable pods count only from now, so it is not full
        entry.cause = None
        entry.since = now


def _judge(
    out: ResilientSiteStatus, prev: ResilientSiteStatus, spec: ResilientSiteSpec, cluster: Mapping[str, ZoneCount]
) -> None:
    """The phase and what it is read from, from the zones' ready counts."""
    per_zone = {z.name: z.ready_replicas for z in out.zones}
    total = sum(per_zone.values())
    # One node per ready replica: which nodes they are on is unknown, so no Node finding is made here.
    spread = rules.Spread(per_zone=per_zone, per_node={f"#{i}": 1 for i in range(total)})
    replica = [w for w in rules.replica_weaknesses(spread, spec.min_zones) if w.scope != "Node"]
    kept = {s: [f for f in prev.single_points_of_failure if f.scope == s and f.severity == "SPOF"]
            for s in ("Rollout", "Node", "Service", "Dependency")}  # fmt: skip
    cluster_zones = sorted(z for z, c in cluster.items() if c.ready_nodes > 0)
    if len(out.zones) == 1:  # the site in one zone: as it was
        topology = [f.message for f in prev.single_points_of_failure if f.scope == "Topology"]
    elif len(cluster_zones) < spec.min_zones:
        have = ", ".join(cluster_zones) or "none"
        topology = [
            f"the cluster has {len(cluster_zones)} zone(s) with Ready nodes ({have}), fewer than minZones {spec.min_zones}"
        ]
    else:
        topology = []
    firsts: list[str] = [
        *(f.message for f in kept["Rollout"]),
        *(w.message for w in replica),
        *(f.message for f in kept["Node"]),
        *topology,
        *(f.message for f in kept["Service"]),
        *(f.message for f in kept["Dependency"]),
    ]
    causes: dict[str, Cause] = {z.name: z.cause for z in out.zones if z.cause is not None}
    health = report.Health(
        asked=spec.replicas,
        ready=total,
        ready_zones=len(spread.zones),
        lost=[z.name for z in out.zones if not z.healthy],
        causes=causes,
        first_spof=firsts[0] if firsts else None,
        was_pending=prev.phase == "Pending",
    )
    out.phase, out.message = report.phase_of(health)
    out.spof = bool(firsts)
    out.ready_replicas, out.ready_zones = total, len(spread.zones)
