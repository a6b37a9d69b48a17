"""Headroom, N+1 per site: would the other zones have room for what moves if a zone were lost?

From the nodes' allocatable pods, CPU and memory, what the pods bound to them already request
(kept per node by the shell in a `Book` of reduced pod records) and the site's template requests.
A zone loss moves every site's replicas at once, so the room is weighed against all the sites'
pods in the zone, not this site's alone. Per zone sums over nodes, each node counted by how many
pods of the request still fit on it; cheap enough to run on every pass of every site.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from spofless.core.observed.records import Load, Node
from spofless.core.placement import split


def fits(node: Node, load: Load | None, cpu_milli: int, memory_bytes: int) -> int:
    """How many more pods of this request fit on the node (0 when NotReady or cordoned)."""
    have = node.allocatable
    if have is None or not node.ready or not node.schedulable:
        return 0
    used = load or Load()
    count = have.pods - used.pods
    if cpu_milli > 0:
        count = min(count, (have.cpu_milli - used.cpu_milli) // cpu_milli)
    if memory_bytes > 0:
        count = min(count, (have.memory_bytes - used.memory_bytes) // memory_bytes)
    return max(0, count)


def by_zone(nodes: Iterable[Node], topology_key: str) -> dict[str, list[Node]]:
    out: dict[str, list[Node]] = {}
    for node in nodes:
        if zone := node.zone(topology_key):
            out.setdefault(zone, []).append(node)
    return out


def room(
    zone_nodes: Mapping[str, list[Node]], usage: Mapping[str, Load], cpu_milli: int, memory_bytes: int
) -> dict[str, int]:
    """Pods of this request each zone can still take."""
    return {
        zone: sum(fits(n, usage.get(n.name), cpu_milli, memory_bytes) for n in nodes)
        for zone, nodes in zone_nodes.items()
    }


def known(nodes: Iterable[Node]) -> bool:
    """Room can be judged: the nodes report what they can hold."""
    return any(n.allocatable is not None for n in nodes)


@dataclass(frozen=True)
class Verdict:
    """What losing one zone would do to the room: for the what-if table and its warning."""

    zone: str
    absorbable: bool
    would_stay_pending: int  # this site's replicas that would find no room, at worst
    message: str


@dataclass(frozen=True)
class SiteRequest:
    """The site as the headroom needs it."""

    key: str  # namespace/name: the site's order of the zones
    base: Mapping[str, int]  # the even split
    desired: Mapping[str, int]  # replicas per zone now
    out_of_service: Sequence[str]
    cpu_milli: int
    memory_bytes: int


def what_if(
    site: SiteRequest,
    zones: Sequence[str],
    zone_nodes: Mapping[str, list[Node]],
    usage: Mapping[str, Load],
) -> dict[str, Verdict]:
    """For each zone still in service: would the others take what would move if it were lost?"""
    site_room = room(zone_nodes, usage, site.cpu_milli, site.memory_bytes)
    out: dict[str, Verdict] = {}
    for zone in zones:
        if zone in site.out_of_service:
            continue
        out[zone] = _verdict(site, zone, site_room, zone_nodes, usage)
    return out


def _verdict(
    site: SiteRequest,
    zone: str,
    site_room: Mapping[str, int],
    zone_nodes: Mapping[str, list[Node]],
    usage: Mapping[str, Load],
) -> Verdict:
    lost = [*site.out_of_service, zone]
    others = {z: site_room.get(z, 0) for z in site.base if z not in lost}
    order = split.site_order(site.key, list(site.base), others)
    target = split.fail_over(site.base, lost, order, others, site.desired)
    arriving = {z: max(0, target[z] - site.desired.get(z, 0)) for z in others}
    moving = sum(arriving.values())
    short_alone = sum(max(0, n - others[z]) for z, n in arriving.items())
    # Every site's pods in the zone move at once: weigh the room against all of them.
    fleet = _fleet_shortfall(zone, lost, zone_nodes, usage)
    pending = min(moving, max(short_alone, fleet.short))
    if pending == 0:
        return Verdict(zone, True, 0, f"the other zones have room for the {moving} replica(s) that would move")
    # No counts of the fleet's pods or free slots in the sentence: they change with every pod of
    # every site, and a status that changed with them was rewritten on every pass (16 writes per
    # site through a 100-site outage in the bench). wouldStayPending carries this site's count.
    why = (
        "the other zones lack room for every site's pods that would move there"
        if fleet.short >= short_alone
        else "the other zones lack room for this site's replicas"
    )
    return Verdict(zone, False, pending, f"losing zone {zone} would leave {pending} replica(s) Pending: {why}")


@dataclass(frozen=True)
class _Fleet:
    moving: int
    room: int
    short: int


def _fleet_shortfall(
    zone: str, lost: Sequence[str], zone_nodes: Mapping[str, list[Node]], usage: Mapping[str, Load]
) -> _Fleet:
    loads = [usage[n.name] for n in zone_nodes.get(zone, []) if n.name in usage]
    moving = sum(x.site_pods for x in loads)
    if moving == 0:
        return _Fleet(0, 0, 0)
    cpu = -(-sum(x.site_cpu_milli for x in loads) // moving)  # the average pod that would move
    memory = -(-sum(x.site_memory_bytes for x in loads) // moving)
    rest = {z: nodes for z, nodes in zone_nodes.items() if z not in lost}
    free = sum(room(rest, usage, cpu, memory).values())
    return _Fleet(moving, free, max(0, moving - free))


def unabsorbable(
    nodes: Iterable[Node], usage: Mapping[str, Load], topology_keys: Iterable[str]
) -> frozenset[tuple[str, str]]:
    """(topology key, zone) pairs whose loss the other zones could not absorb, every site counted:
    the shell re-runs every site when this changes, so a site's warning follows the others' pods."""
    nodes = list(nodes)
    out = set()
    for key in set(topology_keys):
        zone_nodes = by_zone(nodes, key)
        for zone, members in zone_nodes.items():
            if any(n.ready for n in members) and _fleet_shortfall(zone, [zone], zone_nodes, usage).short > 0:
                out.add((key, zone))
    return frozenset(out)
