"""Where the site's replicas go this pass: replicas per zone (failover, failback, evacuation, or held
while the spec cannot be carried out), the Service's traffic mode, the what-if of room, and the
replicas the scheduler cannot place."""

from __future__ import annotations

from dataclasses import dataclass

from spofless.core.judgement import headroom, shortfall
from spofless.core.observed import quantity
from spofless.core.observed.records import Observed
from spofless.core.placement import scale, split, traffic, triggers
from spofless.core.site.assessment import Assessment
from spofless.core.site.inputs import Site


@dataclass(frozen=True)
class Placed:
    plan: split.Placement
    traffic: traffic.Traffic | None  # None: spec.service.trafficDistribution not asked for
    verdicts: dict[str, headroom.Verdict]  # per zone in service: would the others absorb its loss?
    shorts: list[shortfall.Short]  # replicas of in-service zones the scheduler cannot place


def place(site: Site, seen: Assessment, observed: Observed, hold: bool = False) -> Placed:
    """hold: nothing moves (a data center cut off from the store's majority, see placement/datacenters.py)."""
    spec, ready = seen.spec, seen.ready.per_zone
    total = scale.replicas(spec)
    cpu, memory = quantity.pod_requests(spec.template.get("spec") or {})
    zone_nodes = headroom.by_zone(observed.nodes, spec.topology_key) if headroom.known(observed.nodes) else {}
    room = headroom.room(zone_nodes, observed.usage, cpu, memory) if zone_nodes else None
    expected = seen.zone_set.expected
    if seen.problem is None and not hold:
        asked = split.Asked(total, expected, spec.failover.enabled, site.key)
        plan = split.place(asked, split.Zones(seen.out_of_service, seen.current, ready, room))
        plan = triggers.drain(plan, seen.triggered.evacuating, ready, total)
    else:
        plan = split.hold(total, expected, seen.current, site.key)
    mode = traffic.mode(spec.service.traffic_distribution, seen.triggered.causes, list(seen.failback_left), plan, ready)
    # Nothing moves without failover: then there is no what-if of room to make.
    moving = seen.out_of_service if spec.failover.enabled else list(expected)
    request = headroom.SiteRequest(site.key, plan.base, plan.desired, moving, cpu, memory)
    verdicts = headroom.what_if(request, expected, zone_nodes, observed.usage) if zone_nodes else {}
    # Pending pods of a lost or evacuated zone wait for their zone; those of a full zone are short.
    waiting = [z for z, c in seen.triggered.causes.items() if c != "ZoneFull"]
    return Placed(plan, mode, verdicts, shortfall.shortfalls(observed.pods, waiting))
