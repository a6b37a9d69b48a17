"""The cluster's zones, modelled once for every site: a zone is lost or back exactly once per
transition, however many of its nodes change on the way.

A node event is one of three things for the sites:
- a transition: a zone lost its last Ready node, or got its first one back. Every site's report
  goes first (the engine's zone lane), then its moves;
- a detail: a node turned Ready or NotReady in a zone that keeps others, was cordoned, changed its
  allocatable. The sites' statuses show ready node counts and room, so they are passed once, a
  moment later, for a whole burst of such changes;
- nothing a site reads (a heartbeat, a condition's timestamp): no pass at all.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable
from dataclasses import dataclass, field

from spofless.core.model.spec import DEFAULT_TOPOLOGY_KEY
from spofless.core.observed.records import Node
from spofless.core.placement.zones import ZoneHealth, cluster_health


class Change(enum.Enum):
    NONE = "none"
    DETAIL = "detail"
    TRANSITION = "transition"


@dataclass(frozen=True)
class Transition:
    topology_key: str
    zone: str
    healthy: bool


@dataclass
class ZoneWatch:
    nodes: dict[str, Node] = field(default_factory=dict)
    topology_keys: set[str] = field(default_factory=lambda: {DEFAULT_TOPOLOGY_KEY})
    _healthy: dict[tuple[str, str], bool] = field(default_factory=dict)  # (key, zone) -> healthy

    def update(self, name: str, node: Node | None) -> tuple[Change, list[Transition]]:
        """Records a node as the watch now shows it (None: deleted)."""
        before = self.nodes.get(name)
        if before == node:
            return Change.NONE, []
        if node is None:
            del self.nodes[name]
        else:
            self.nodes[name] = node
        zones = {(k, z) for n in (before, node) if n is not None for k in self.topology_keys if (z := n.zone(k))}
        transitions = [t for key, zone in sorted(zones) if (t := self._recheck(key, zone)) is not None]
        return (Change.TRANSITION if transitions else Change.DETAIL), transitions

    def watch_key(self, topology_key: str) -> None:
        """A site uses this topology key: its zones are modelled from now on."""
        if topology_key in self.topology_keys:
            return
        self.topology_keys.add(topology_key)
        for zone, health in cluster_health(self.nodes.values(), topology_key).items():
            self._healthy[(topology_key, zone)] = health.healthy

    def health(self, topology_key: str = DEFAULT_TOPOLOGY_KEY) -> dict[str, ZoneHealth]:
        return cluster_health(self.nodes.values(), topology_key)

    def healthy(self, topology_key: str = DEFAULT_TOPOLOGY_KEY) -> dict[str, bool]:
        """Every zone seen under one key, and whether it is healthy now (first sightings included)."""
        return {zone: ok for (key, zone), ok in sorted(self._healthy.items()) if key == topology_key}

    def lost(self) -> Iterable[tuple[str, str]]:
        return sorted(k for k, healthy in self._healthy.items() if not healthy)

    def _recheck(self, key: str, zone: str) -> Transition | None:
        members = [n for n in self.nodes.values() if n.zone(key) == zone]
        healthy = any(n.ready for n in members) if members else False
        was = self._healthy.get((key, zone))
        self._healthy[(key, zone)] = healthy
        if was is None:
            return None  # first seen (the initial listing): no transition to announce
        return Transition(key, zone, healthy) if was != healthy else None
