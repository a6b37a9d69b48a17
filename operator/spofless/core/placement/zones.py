"""Which zones a site runs in, and how healthy each one is."""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

from spofless.core.observed.records import Node


@dataclass(frozen=True)
class ZoneHealth:
    name: str
    nodes: int
    ready_nodes: int

    @property
    def healthy(self) -> bool:
        """A zone is lost when no node in it is Ready: all NotReady or gone. (Cordoned nodes still serve.)"""
        return self.ready_nodes > 0


@dataclass(frozen=True)
class ZoneSet:
    """The zones a site is expected to run in, and what they are made of."""

    expected: tuple[str, ...]
    health: dict[str, ZoneHealth]
    unknown: tuple[str, ...]  # listed in the spec but never seen with a node: a spec error
    cluster_zones: tuple[str, ...]  # every zone of the cluster that has a Ready node

    @property
    def lost(self) -> tuple[str, ...]:
        return tuple(z for z in self.expected if not self.health[z].healthy)


def resolve(listed: list[str] | None, topology_key: str, nodes: tuple[Node, ...], known: list[str]) -> ZoneSet:
    """Zones from the spec, or discovered from the nodes' topology label.

    A zone the site has known (it had nodes once) stays expected when its nodes vanish:
    that is an outage to report, not a zone to forget.
    """
    by_zone: dict[str, list[Node]] = {}
    for node in nodes:
        zone = node.zone(topology_key)
        if zone:
            by_zone.setdefault(zone, []).append(node)
    discovered = set(by_zone)
    if listed is not None:
        expected = tuple(listed)
        unknown = tuple(z for z in listed if z not in discovered and z not in known)
    else:
        expected = tuple(sorted(discovered | set(known)))
        unknown = ()
    health = {z: ZoneHealth(z, len(by_zone.get(z, [])), sum(n.ready for n in by_zone.get(z, []))) for z in expected}
    cluster = tuple(sorted(z for z, zone_nodes in by_zone.items() if any(n.ready for n in zone_nodes)))
    return ZoneSet(expected=expected, health=health, unknown=unknown, cluster_zones=cluster)


# A zone none of whose Node objects has been seen for this long, and none of whose pods says Ready, is
# forgotten: its Deployment, if the zone is not in spec.zones, is deleted. Until then the zone is an
# outage (its pods may serve behind a partition), and it is never forgotten for want of memory: a
# Deployment of the site is proof of it.
FORGET_AFTER = timedelta(hours=24)


def known(
    remembered: Collection[str], deployed: Collection[str], gone_since: Mapping[str, datetime], now: datetime
) -> list[str]:
    """The zones the site knows: those its status remembers and those it has a Deployment in, less those
    whose nodes have been gone for FORGET_AFTER (`gone_since`: when each zone's last node disappeared)."""
    forgotten = {z for z, since in gone_since.items() if now - since >= FORGET_AFTER}
    return sorted(z for z in (set(remembered) | set(deployed)) - forgotten if z)


def gone_since(zone_set: ZoneSet, before: Mapping[str, datetime], now: datetime) -> dict[str, datetime]:
    """Per zone without a node now, since when: as remembered, or from now."""
    return {z: before.get(z, now) for z, h in zone_set.health.items() if h.nodes == 0}


def remembered(zone_set: ZoneSet, known: list[str]) -> list[str]:
    """The zones to remember from now on: those known before plus those with nodes now."""
    return sorted(set(known) | {z for z, h in zone_set.health.items() if h.nodes > 0})


def cluster_health(nodes: Iterable[Node], topology_key: str) -> dict[str, ZoneHealth]:
    """Every zone of the cluster under one topology key, as every site sees it: modelled once."""
    by_zone: dict[str, list[Node]] = {}
    for node in nodes:
        if zone := node.zone(topology_key):
            by_zone.setdefault(zone, []).append(node)
    return {z: ZoneHealth(z, len(members), sum(n.ready for n in members)) for z, members in sorted(by_zone.items())}
