"""One definition of a single point of failure, for whatever runs: a site's replicas, a dependency's
endpoints, any Deployment the audit finds. The operator's status and the audit's report both come
from these functions, so a SPOF means the same thing in both.

A `Spread` is where the ready units of one thing are: per zone and per node.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

RuleScope = Literal["Replica", "Zone", "Node", "Service"]


@dataclass(frozen=True)
class Spread:
    """Ready units (pods, endpoints) per zone and per node."""

    per_zone: dict[str, int]
    per_node: dict[str, int]

    @property
    def total(self) -> int:
        return sum(self.per_zone.values())

    @property
    def zones(self) -> list[str]:
        return sorted(z for z, n in self.per_zone.items() if n > 0)

    def left_after_losing(self, zone: str) -> int:
        """Ready units that losing `zone` would leave."""
        return self.total - self.per_zone.get(zone, 0)


def spread_of(units: Iterable[tuple[str | None, str | None]], zones: Iterable[str] = ()) -> Spread:
    """The spread of ready units given as (zone, node); `zones` are listed even when empty.
    A unit without a zone counts in zone "" (unknown), without a node in node ""."""
    pairs = list(units)
    per_zone = dict.fromkeys(zones, 0) | Counter(z or "" for z, _ in pairs)
    return Spread(per_zone=dict(per_zone), per_node=dict(Counter(n or "" for _, n in pairs)))


@dataclass(frozen=True)
class Weakness:
    """One single point of failure of one thing: its scope, where it is, and a sentence."""

    scope: RuleScope
    name: str
    message: str


def _names(items: list[str]) -> str:
    return ", ".join(items)


def replica_weaknesses(
    spread: Spread, min_zones: int, unit: str = "replica", whole: str = "the site"
) -> list[Weakness]:
    """No ready unit, one ready unit, fewer zones than `min_zones`, or every unit on one node.
    Zones count only when `min_zones` > 1 (a single-zone cluster is one Topology finding elsewhere)."""
    out: list[Weakness] = []
    total = spread.total
    if total == 0:
        out.append(Weakness("Replica", "site" if unit == "replica" else unit, f"no ready {unit}: {whole} is down"))
    elif total == 1:
        node = next(iter(spread.per_node)) or unit
        out.append(Weakness("Replica", node, f"only one {unit} is ready: losing it loses {whole}"))
    ready_zones = spread.zones
    if total > 0 and len(ready_zones) < min_zones:
        where = ready_zones[0] if len(ready_zones) == 1 else _names(ready_zones)
        message = (
            f"all {total} ready {unit}s run in zone {where or '(unlabelled)'}"
            if len(ready_zones) == 1
            else f"ready {unit}s run in {len(ready_zones)} zones ({where}), fewer than minZones {min_zones}"
        )
        out.append(Weakness("Zone", where, message))
    if total > 1 and len(spread.per_node) == 1:
        node = next(iter(spread.per_node))
        out.append(Weakness("Node", node, f"all {total} ready {unit}s run on node {node or '(unknown)'}"))
    return out


def worst(weaknesses: list[Weakness]) -> Weakness | None:
    """The most telling weakness of one thing: one unit says more than one node, which says more
    than one zone (each implies the next)."""
    order = {"Replica": 0, "Node": 1, "Zone": 2, "Service": 3}
    return min(weaknesses, key=lambda w: order[w.scope], default=None)


def endpoint_weaknesses(service: str, endpoints: Spread, multi_zone: bool) -> list[Weakness]:
    """A Service with no ready endpoint, or (where there is more than one zone to use) with ready
    endpoints in one zone only."""
    if endpoints.total == 0:
        return [Weakness("Service", service, f"Service {service} has no ready endpoint")]
    zones = endpoints.zones
    if multi_zone and len(zones) == 1:
        where = zones[0] or "(unlabelled)"
        return [Weakness("Service", service, f"Service {service} has ready endpoints in zone {where} only")]
    return []


def budget_blocks_evictions(
    max_unavailable: int | str | None, min_available: int | str | None, expected_pods: int
) -> bool:
    """True when a PodDisruptionBudget can never allow an eviction, so node drains hang:
    maxUnavailable 0 (or 0%), or minAvailable at least every pod it covers (or 100%)."""
    if max_unavailable is not None:
        return _amount(max_unavailable, expected_pods, round_up=True) <= 0
    if min_available is not None:
        return expected_pods > 0 and _amount(min_available, expected_pods, round_up=True) >= expected_pods
    return False


def _amount(value: int | str, of: int, round_up: bool) -> int:
    """An int-or-percent as the disruption controller reads it (percentages round up)."""
    if isinstance(value, int):
        return value
    text = value.strip()
    if text.endswith("%"):
        try:
            percent = int(text[:-1])
        except ValueError:
            return 0
        scaled = percent * of
        return -(-scaled // 100) if round_up else scaled // 100
    try:
        return int(text)
    except ValueError:
        return 0
