"""How many replicas each zone's Deployment gets: the even split, failover and failback.

The current replicas of the zones' Deployments are the only memory of earlier moves, so a
restarted operator derives the same next step from what it observes: no move is lost or
made twice.

A zone outage hits every site at once, and every site decides from the same snapshot. Ties
between zones are therefore broken in an order of the site's own (a hash of its namespace/name,
see `site_order`), weighted by the zones' free room where that is known: over a fleet, the moved
replicas land on the healthy zones in proportion to their room, never all on the zone whose
name sorts first.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass


def _unit(key: str, zone: str) -> float:
    """A number in (0, 1), fixed for (key, zone) and spread uniformly over keys."""
    digest = hashlib.blake2b(f"{key}\x00{zone}".encode(), digest_size=8).digest()
    return (int.from_bytes(digest, "big") + 1) / (2**64 + 1)


def site_order(key: str, zones: Sequence[str], weights: Mapping[str, int] | None = None) -> list[str]:
    """The zones in the site's own order. Without weights every order is equally likely over keys;
    with weights (free room, in pods) a zone comes first with probability proportional to its
    weight (an exponential race), and a zone of weight 0 comes last. Deterministic per key."""

    def rank(zone: str) -> tuple[float, str]:
        weight = 1 if weights is None else weights.get(zone, 0)
        if weight <= 0:
            return (math.inf, zone)
        return (-math.log(_unit(key, zone)) / weight, zone)

    return sorted(zones, key=rank)


def spread(total: int, zones: Sequence[str], key: str | None = None) -> dict[str, int]:
    """The even split: every zone gets total // n, and total % n zones one more: the first in the
    site's order (`key`), or in name order without a key."""
    ordered = site_order(key, zones) if key is not None else sorted(zones)
    if not ordered:
        return {}
    share, extra = divmod(total, len(ordered))
    return {zone: share + (1 if i < extra else 0) for i, zone in enumerate(ordered)}


def fail_over(
    base: Mapping[str, int],
    lost: Sequence[str],
    order: Sequence[str] | None = None,
    room: Mapping[str, int] | None = None,
    current: Mapping[str, int] | None = None,
) -> dict[str, int]:
    """Moves the lost zones' share onto the healthy zones, one replica at a time to the healthy
    zone with the fewest, ties broken by `order` (default: by name), so no healthy zone ever gets
    less than its even share. Lost zones keep their share: their pods come back with the zone.

    room: pods each zone can still take; a zone without room gets nothing while another has some.
    current: the zones' replicas now. Replicas already moved stay where they are, so a move made on
    an earlier snapshot of the room is not undone when the room changes (no flapping)."""
    rank = {z: i for i, z in enumerate(order or sorted(base))}
    healthy = sorted((z for z in base if z not in lost), key=lambda z: (rank.get(z, len(rank)), z))
    target = dict(base)
    if not healthy:
        return target
    to_move = sum(base[z] for z in lost)
    for zone in healthy:  # keep earlier moves, first in the site's order, up to what is to move
        kept = min(max(0, (current or {}).get(zone, 0) - base[zone]), to_move)
        target[zone] += kept
        to_move -= kept
    given = dict.fromkeys(healthy, 0)
    for _ in range(to_move):
        roomy = [z for z in healthy if room is None or room.get(z, 0) > given[z]]
        zone = min(roomy or healthy, key=lambda z: (target[z], rank.get(z, len(rank))))
        target[zone] += 1
        given[zone] += 1
    return target


@dataclass(frozen=True)
class Placement:
    desired: dict[str, int]  # replicas per zone to apply now
    target: dict[str, int]  # where the placement is heading
    base: dict[str, int]  # the even split, with every zone healthy
    held: dict[str, int]  # replicas kept above target in healthy zones until capacity elsewhere is ready

    @property
    def failover_active(self) -> bool:
        return any(self.desired[z] > self.base[z] for z in self.base)

    @property
    def moved(self) -> dict[str, int]:
        """Per zone, replicas asked above (+) or below (-) its even share; zones at their share are absent."""
        return {z: self.desired[z] - self.base[z] for z in self.base if self.desired[z] != self.base[z]}


@dataclass(frozen=True)
class Asked:
    """What the site asks of its zones.

    key: the site's namespace/name: its own order of the zones for ties (None: by name)."""

    total: int
    zones: Sequence[str]
    failover: bool = True
    key: str | None = None


@dataclass(frozen=True)
class Zones:
    """The zones now.

    out_of_service: lost, full or evacuated zones, and zones back for less than the failback window.
    current: the zones' Deployments' replicas now (None: no Deployment yet).
    ready: ready pods per zone.
    room: pods of the site's template each zone can still take (None: unknown)."""

    out_of_service: Sequence[str]
    current: Mapping[str, int | None]
    ready: Mapping[str, int]
    room: Mapping[str, int] | None = None


def place(asked: Asked, zones_now: Zones) -> Placement:
    """The next replicas per zone.

    Scale-ups happen at once. A scale-down while capacity is still arriving elsewhere
    (a zone's ready pods below its desired count) only takes what the ready surplus
    over `total` allows, so failback never drops ready capacity below the spec.
    """
    total, zones, key, failover = asked.total, asked.zones, asked.key, asked.failover
    out_of_service, current, ready, room = zones_now.out_of_service, zones_now.current, zones_now.ready, zones_now.room
    base = spread(total, zones, key)
    now = {z: current.get(z) or 0 for z in base}
    order = site_order(key, list(base), room) if key is not None else sorted(base)
    target = fail_over(base, out_of_service, order, room, now) if failover else dict(base)
    in_service = [z for z in base if z not in out_of_service]
    # A zone we cannot see into is never shrunk: its pods may still be serving behind a partition.
    desired = {z: target[z] if z in in_service else max(target[z], now[z]) for z in base}
    cuts = {z: now[z] - target[z] for z in in_service if now[z] > target[z]}
    arriving = any(ready.get(z, 0) < target[z] for z in in_service)
    held: dict[str, int] = {}
    if cuts and arriving:
        # Ready pods above a zone's replicas are on their way out (a scale-down, a surge): no surplus.
        budget = max(0, sum(min(ready.get(z, 0), now[z]) for z in in_service) - total)
        # Cuts go in the site's own order too: over a fleet, no zone is always emptied first.
        for zone in (z for z in (site_order(key, list(cuts)) if key is not None else sorted(cuts))):
            take = min(cuts[zone], budget)
            budget -= take
            desired[zone] = target[zone] + cuts[zone] - take
            if desired[zone] != target[zone]:
                held[zone] = desired[zone] - target[zone]
    return Placement(desired=desired, target=target, base=base, held=held)


def hold(total: int, zones: Sequence[str], current: Mapping[str, int | None], key: str | None = None) -> Placement:
    """No move at all: every zone keeps what its Deployment has (a spec that cannot be carried out).
    The even split it is measured against is place()'s: the same total, in the site's own order."""
    base = spread(total, zones, key)
    kept = {z: current.get(z) or 0 for z in base}
    return Placement(desired=kept, target=dict(kept), base=base, held={})
