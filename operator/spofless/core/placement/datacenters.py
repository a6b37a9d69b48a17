"""How spec.replicas is split over the data centers, when one is lost and when it comes back, and
whether this data center's address stays in DNS. Pure, and deterministic in what the store says:
every data center that reads the same store computes the same split.

The same rules as the zones' (split.py), one level up:
- the even split over the members, ties broken in the site's own order;
- a member without a live lease is lost: its share moves to the others, and it keeps its own share
  (its pods come back with it);
- a member back for less than the failback window still counts as out: no flapping.

And the safety rules, after Route 53 ARC's:
- a data center that cannot reach the store's majority changes nothing: no scale-up, no scale-down;
- no failover while more than one data center looks lost at once, unless a majority read confirms it;
- spofless never empties DNS: the last data center with ready replicas stays in.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import datetime

from spofless.core.model.spec import DataCentersSpec, ResilientSiteSpec
from spofless.core.observed.datacenters import DataCenterView
from spofless.core.placement import split as zones_split


class Hold(enum.Enum):
    """Why this data center changes nothing now."""

    STORE_UNREACHABLE = "StoreUnreachable"
    UNCONFIRMED_LOSS = "UnconfirmedLoss"
    NOT_A_MEMBER = "NotAMember"


@dataclass(frozen=True)
class Split:
    """This data center's part of the site, and the picture it was computed from."""

    replicas: int | None  # this data center's share of spec.replicas; None: hold, change nothing
    target: dict[str, int]  # every member's replicas, as every data center computes them ({} on hold)
    lost: tuple[str, ...]  # members without a live lease
    returning: dict[str, float] = field(default_factory=dict)  # member back, seconds until it takes its share
    hold: Hold | None = None
    message: str = ""

    @property
    def wake_after(self) -> float | None:
        """Seconds until the next failback window ends: the split changes then without any event."""
        return min(self.returning.values(), default=None)

    @property
    def failover_active(self) -> bool:
        return bool(self.lost or self.returning)


def floor(share: int, min_zones: int) -> int:
    """A data center that runs the site runs at least one replica per zone it needs (0 stays 0)."""
    return 0 if share == 0 else max(share, min_zones)


def returning(spec: DataCentersSpec, view: DataCenterView, now: datetime) -> dict[str, float]:
    """Members back from a loss for less than the failback window, with the seconds left.

    A member is back from a loss when it was recorded lost before it took its current lease. A loss
    recorded after that is a stale or mistaken record: the member holds its lease, so it counts."""
    window = spec.failback_after_seconds
    out: dict[str, float] = {}
    for member in view.live:
        lost_at = view.lost_at.get(member.name)
        if member.name not in spec.members or lost_at is None or lost_at > member.joined:
            continue
        left = window - (now - member.joined).total_seconds()
        if left > 0:
            out[member.name] = left
    return out


def split(total: int, min_zones: int, spec: DataCentersSpec, view: DataCenterView, key: str, now: datetime) -> Split:
    """This data center's share of `total` (spec.replicas), or a hold.

    key: the site's namespace/name, its own order of the data centers for the remainder."""
    if view.local not in spec.members:
        members = ", ".join(spec.members)
        return _hold(Hold.NOT_A_MEMBER, f"this data center ({view.local}) is not one of spec.dataCenters.members "
                     f"({members}): nothing is changed here")  # fmt: skip
    if not view.reachable:
        return _hold(Hold.STORE_UNREACHABLE, "this data center cannot reach the store's majority: nothing is "
                     "scaled up or down here and its pods keep serving; DNS is left as it is (the name servers "
                     "answer from their cache while the store cannot)")  # fmt: skip
    live = view.live_names()
    lost = tuple(m for m in spec.members if m not in live)
    if len(lost) > 1 and not view.confirmed:
        return _hold(Hold.UNCONFIRMED_LOSS, f"{len(lost)} data centers look lost at once ({', '.join(lost)}) and no "
                     "majority read confirms it: no failover until one does")  # fmt: skip
    back = returning(spec, view, now)
    base = zones_split.spread(total, spec.members, key)
    arriving = _arriving(view, base, lost, back)
    target = zones_split.fail_over(base, [*lost, *back, *arriving], zones_split.site_order(key, spec.members))
    target = {m: floor(n, min_zones) for m, n in target.items()}
    return Split(replicas=target[view.local], target=target, lost=lost, returning=back)


def _arriving(view: DataCenterView, base: dict[str, int], lost: tuple[str, ...], back: dict[str, float]) -> list[str]:
    """Members past their failback window whose published ready replicas are still below their share:
    the others keep carrying it until they are ready (the failback is paced as the zones' is). Only
    members that came back from a loss are paced; members that never were lost count at once."""
    out = []
    for member in view.live:
        if member.name in lost or member.name in back or member.name not in view.lost_at:
            continue
        lost_at, share = view.lost_at[member.name], view.share(member.name)
        if lost_at <= member.joined and share is not None and share.ready < base.get(member.name, 0):
            out.append(member.name)
    return out


def _hold(reason: Hold, message: str) -> Split:
    return Split(replicas=None, target={}, lost=(), hold=reason, message=message)


def in_dns(view: DataCenterView, plan: Split, local_ready: int) -> bool | None:
    """Whether this data center's address should be under the site's hostname; None: leave DNS as it is
    (no majority: nothing can be written, and the records stay until the lease lapses by itself).

    In with ready replicas, once back for the failback window. Out otherwise, except that spofless
    never empties DNS: when no other data center in DNS has a ready replica, this one stays in."""
    if plan.hold is not None:
        return None
    if local_ready > 0 and view.local not in plan.returning:
        return True
    others = [s for s in view.shares if s.data_center != view.local and s.in_dns and s.ready > 0]
    others = [s for s in others if s.data_center in view.live_names()]
    return not others


def unrecorded(gone: frozenset[str], before: frozenset[str], view: DataCenterView) -> frozenset[str]:
    """Members this data center saw with a live lease and has not seen since (`before`: live at its
    last majority read), whose loss it has not recorded yet (`gone`): those still absent now.

    A loss noticed while it may not be recorded (see newly_lost) stays here until it may be: a member
    gone for good is recorded a few rounds late, never forgotten. One back meanwhile leaves the set."""
    if not (view.reachable and view.confirmed):
        return gone
    return frozenset((gone | before) - view.live_names() - {view.local})


def newly_lost(gone: frozenset[str], view: DataCenterView, own_lease_lapsed: bool = False) -> list[str]:
    """The losses to record now (with the time) so that every data center applies the same failback
    window when the member returns. gone: what `unrecorded` says.

    own_lease_lapsed: this data center's own lease lapsed within the last lease TTL. Then the lapses may
    be the store's doing, not the members': an etcd leader paused and resumed revoked every lease at
    once (seen in a scenario, etcd 3.6.16), and every member took a new one within a second. Recording
    them would hold every member out for its failback window. So the recording waits out the TTL: a
    member still gone then is lost. (The store's leader dying with a data center also lapses the other
    members' leases, during the election: seen on kind. Dropping those losses instead of deferring them
    let the dead data center back into DNS without its failback window.)"""
    if not (view.reachable and view.confirmed) or own_lease_lapsed:
        return []
    return sorted(gone - view.live_names() - {view.local})


def for_site(spec: ResilientSiteSpec, view: DataCenterView | None, key: str, now: datetime) -> Split | None:
    """The split of a site that runs in several data centers; None for a site of this cluster alone
    (no spec.dataCenters), or where this spofless is not given a data center: spec.replicas here."""
    if spec.data_centers is None or view is None:
        return None
    return split(spec.replicas, spec.min_zones, spec.data_centers, view, key, now)


@dataclass(frozen=True)
class Address:
    """Where clients reach the site in this data center: hosts (IPs or names) and a port (0: the
    Service's own port, as a load balancer serves it)."""

    hosts: tuple[str, ...]
    port: int = 0
    source: str = ""  # LoadBalancer, NodePort, DataCenter (the operator's --data-center-address)


def address(
    service_type: str,
    ingress: tuple[str, ...],
    node_port: int | None,
    node_addresses: tuple[str, ...],
    fallback: tuple[str, ...],
) -> Address | None:
    """The address published for this data center, from the site's Service:
    1. its load balancer's ingress (IPs or hostnames), when the Service has one;
    2. else, for a NodePort or LoadBalancer Service, the Ready nodes' addresses with its first node port;
    3. else the data center's own address given to spofless (an ingress in front of the cluster);
    None: nothing to publish (the site is not in DNS here, and the status says so)."""
    if ingress:
        return Address(tuple(sorted(ingress)), 0, "LoadBalancer")
    if service_type in ("NodePort", "LoadBalancer") and node_port and node_addresses:
        return Address(tuple(sorted(node_addresses)), node_port, "NodePort")
    if fallback:
        return Address(tuple(fallback), 0, "DataCenter")
    return None
