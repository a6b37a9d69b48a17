"""How many replicas each zone's Deployment gets: the even split, failover and failback.

The current replicas of the zones' Deployments are the only memory of earlier moves, so a
restarted operator derives the same next step from what it observes: no move is lost or
made twice.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass


def spread(total: int, zones: Sequence[str]) -> dict[str, int]:
    """The even split: every zone gets total // n, the first total % n zones in name order one more."""
    ordered = sorted(zones)
    if not ordered:
        return {}
    share, extra = divmod(total, len(ordered))
    return {zone: share + (1 if i < extra else 0) for i, zone in enumerate(ordered)}


def fail_over(base: Mapping[str, int], lost: Sequence[str]) -> dict[str, int]:
    """Moves the lost zones' share onto the healthy zones, one replica at a time to the
    healthy zone with the fewest, so no healthy zone ever gets less than its even share.
    Lost zones keep their share: their pods come back with the zone."""
    healthy = sorted(z for z in base if z not in lost)
    target = dict(base)
    if not healthy:
        return target
    for _ in range(sum(base[z] for z in lost)):
        zone = min(healthy, key=lambda z: (target[z], z))
        target[zone] += 1
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


def place(
    total: int,
    zones: Sequence[str],
    out_of_service: Sequence[str],
    current: Mapping[str, int | None],
    ready: Mapping[str, int],
    failover: bool,
) -> Placement:
    """The next replicas per zone.

    out_of_service: lost zones and zones back for less than the failback window.
    current: the zones' Deployments' replicas now (None: no Deployment yet).
    ready: ready pods per zone.

    Scale-ups happen at once. A scale-down while capacity is still arriving elsewhere
    (a zone's ready pods below its desired count) only takes what the ready surplus
    over `total` allows, so failback never drops ready capacity below the spec.
    """
    base = spread(total, zones)
    target = fail_over(base, out_of_service) if failover else dict(base)
    now = {z: current.get(z) or 0 for z in base}
    in_service = [z for z in base if z not in out_of_service]
    # A zone we cannot see into is never shrunk: its pods may still be serving behind a partition.
    desired = {z: target[z] if z in in_service else max(target[z], now[z]) for z in base}
    cuts = {z: now[z] - target[z] for z in in_service if now[z] > target[z]}
    arriving = any(ready.get(z, 0) < target[z] for z in in_service)
    held: dict[str, int] = {}
    if cuts and arriving:
        budget = max(0, sum(ready.get(z, 0) for z in in_service) - total)
        for zone in sorted(cuts):
            take = min(cuts[zone], budget)
            budget -= take
            desired[zone] = target[zone] + cuts[zone] - take
            if desired[zone] != target[zone]:
                held[zone] = desired[zone] - target[zone]
    return Placement(desired=desired, target=target, base=base, held=held)


def hold(total: int, zones: Sequence[str], current: Mapping[str, int | None]) -> Placement:
    """No move at all: every zone keeps what its Deployment has (a spec that cannot be carried out)."""
    base = spread(total, zones)
    kept = {z: current.get(z) or 0 for z in base}
    return Placement(desired=kept, target=dict(kept), base=base, held={})
