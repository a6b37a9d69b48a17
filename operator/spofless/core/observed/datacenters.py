"""What the store (the etcd that spans the data centers) says, as one data center's spofless read it:
the members' leases, the members recorded lost, each data center's published share of one site, and
whether this reading carries the store's majority.

The shell fills it from etcd; the rules in placement/datacenters.py and judgement/datacenters.py
read only this, so every data center that reads the same store decides the same.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime

WITNESS = "witness"  # where an etcd member runs that is in no data center of the site (a third site)


@dataclass(frozen=True)
class MemberLease:
    """A data center whose spofless holds a live lease in the store."""

    name: str
    joined: datetime  # when it took its lease (kept across a restart that did not let the lease lapse)


@dataclass(frozen=True)
class Share:
    """What one data center published for one site, under its lease."""

    data_center: str
    ready: int  # ready replicas there
    desired: int  # replicas it is asked for there (its share)
    addresses: tuple[str, ...] = ()  # where the site is reached there
    in_dns: bool = False  # its addresses are published under the site's hostname
    room: int | None = None  # more replicas of the site its zones could take (None: unknown)
    dependencies: Mapping[str, int] = field(default_factory=dict)  # required dependency -> ready endpoints


@dataclass(frozen=True)
class DataCenterView:
    """The store as this data center sees it, for one site."""

    local: str  # this data center's name
    live: tuple[MemberLease, ...]  # every member with a live lease (this one included, when it holds one)
    reachable: bool  # a majority read succeeded within the lease's TTL: this data center is with the majority
    confirmed: bool  # `live` comes from such a majority read (not from a watch, or a member's own copy)
    lost_at: Mapping[str, datetime] = field(default_factory=dict)  # members last seen losing their lease, when
    shares: tuple[Share, ...] = ()  # every live data center's share of the site, this one's included
    store_members: Mapping[str, str] = field(
        default_factory=dict
    )  # etcd member -> where it runs (a data center's name)
    lease_seconds: int = 5  # the TTL of the members' leases

    def live_names(self) -> frozenset[str]:
        return frozenset(m.name for m in self.live)

    def share(self, data_center: str) -> Share | None:
        return next((s for s in self.shares if s.data_center == data_center), None)
