"""The publisher of a data center (operator/datacenters.py) against an in-memory store with etcd's
revisions and leases: what it writes under its lease, DNS never emptied even when two data centers
lose their replicas at the same moment, and a standby that writes nothing."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from spofless.core.observed.records import Node, Pod
from spofless.core.placement import datacenters as dc_split
from spofless.operator.datacenters import Presence, Settings, dns_path
from spofless.operator.engine import Engine, Indices
from spofless.operator.etcd import KeyValue, Member, Range
from spofless.operator.leader import Leadership

HOST = "shop.sites.spofless.test"
SITE = ("web", "shop")


@dataclass
class Store:
    """etcd as the publisher uses it: keys with a modification revision and a lease, leases that lapse."""

    kv: dict[str, tuple[str, int, int]] = field(default_factory=dict)  # key -> (value, mod revision, lease)
    revision: int = 1
    leases: set[int] = field(default_factory=set)

    async def grant(self, ttl: int) -> int:
        self.revision += 1
        self.leases.add(self.revision)
        return self.revision

    async def keep_alive(self, lease: int) -> int:
        return 5 if lease in self.leases else 0

    def lapse(self, lease: int) -> None:
        self.leases.discard(lease)
        self.kv = {k: v for k, v in self.kv.items() if v[2] != lease}

    async def range(self, prefix: str, serializable: bool = False) -> Range:
        found = tuple(
            KeyValue(k, v, lease, rev, rev) for k, (v, rev, lease) in sorted(self.kv.items()) if k.startswith(prefix)
        )
        return Range(self.revision, found)

    async def put(self, key: str, value: str, lease: int = 0) -> int:
        self.revision += 1
        self.kv[key] = (value, self.revision, lease)
        return self.revision

    async def put_if_absent(self, key: str, value: str, lease: int = 0, absent: str | None = None) -> bool:
        if (absent or key) in self.kv:
            return False
        await self.put(key, value, lease)
        return True

    async def delete(self, key: str, prefix: bool = False) -> int:
        gone = [k for k in self.kv if k == key or (prefix and k.startswith(key))]
        for k in gone:
            del self.kv[k]
        return len(gone)

    async def delete_if_unchanged(self, keys: list[str], unchanged: dict[str, int]) -> bool:
        if any(self.kv.get(k, ("", 0, 0))[1] != rev for k, rev in unchanged.items()):
            return False
        for k in keys:
            self.kv.pop(k, None)
        return True

    async def members(self) -> list[Member]:
        return [Member(m, (), ()) for m in ("dc1", "dc2", "dc3")]

    def records(self) -> set[str]:
        return {json.loads(v)["host"] for k, (v, _, _) in self.kv.items() if k.startswith(dns_path(HOST) + "/")}


class _Reconciler:
    def reset(self) -> None:
        return None


def fixed(address: dc_split.Address, _key: tuple[str, str], _body: Any) -> dc_split.Address:
    return address


def presence(store: Store, name: str, ready: int, leading: bool = True) -> Presence:
    body = {"metadata": {"name": "shop", "namespace": "web"}, "spec": {"replicas": 4, "minZones": 1, "template": {},
            "dataCenters": {"members": ["dc1", "dc2"], "hostname": HOST}}}  # fmt: skip
    pods = {SITE: [Pod(f"p{i}", "zone-a", "n1", True, False) for i in range(ready)]}
    leadership = Leadership(name, always=leading)  # not leading: a standby that never got the Lease
    engine = Engine(reconciler=_Reconciler(), leadership=leadership, workers=0)  # type: ignore[arg-type]
    engine.indices, engine.indexed = Indices({SITE: [body]}, {None: [Node("n1", {}, True)]}, pods, {}, {}, {}, {}), True
    where = functools.partial(fixed, dc_split.Address((f"10.0.0.{name[-1]}",), 0, "DataCenter"))
    return Presence(Settings(name, ("memory",)), store, leadership, engine, where)  # type: ignore[arg-type]


async def _until(met: Callable[[], bool]) -> None:
    while not met():
        await asyncio.sleep(0.005)


def set_ready(p: Presence, ready: int) -> None:
    assert p.engine.indices is not None
    p.engine.indices.pods = {SITE: [Pod(f"p{i}", "zone-a", "n1", True, False) for i in range(ready)]}


async def round_(*presences: Presence) -> None:
    """One round of each, as their loops would run it."""
    for p in presences:
        if p.lease == 0:
            await p._join()
        await p._read()
        await p._read_shares()
        await p._publish()


async def settled(store: Store) -> tuple[Presence, Presence]:
    """Two data centers with 2 ready replicas each, both published and in DNS."""
    dc1, dc2 = presence(store, "dc1", 2), presence(store, "dc2", 2)
    await round_(dc1, dc2)
    await round_(dc1, dc2)
    return dc1, dc2


def test_each_data_center_publishes_its_share_and_its_record_under_its_lease() -> None:
    store = Store()
    dc1, dc2 = asyncio.run(settled(store))
    assert store.records() == {"10.0.0.1", "10.0.0.2"}
    share = json.loads(store.kv["/spofless/sites/web/shop/dc1"][0])
    assert (share["ready"], share["desired"], share["inDns"]) == (2, 2, True)
    assert store.kv["/spofless/sites/web/shop/dc1"][2] == dc1.lease  # under the lease: it lapses with it
    store.lapse(dc2.lease)
    assert store.records() == {"10.0.0.1"}


def test_a_data_center_without_ready_replicas_leaves_dns_while_another_answers() -> None:
    store = Store()

    async def run() -> None:
        dc1, dc2 = await settled(store)
        set_ready(dc1, 0)
        await round_(dc1, dc2)

    asyncio.run(run())
    assert store.records() == {"10.0.0.2"}


def test_two_data_centers_losing_their_replicas_at_once_never_empty_dns() -> None:
    store = Store()

    async def run() -> None:
        dc1, dc2 = await settled(store)
        set_ready(dc1, 0)
        set_ready(dc2, 0)
        # Both read the other's share (still ready) before either writes: the race that could empty DNS.
        for p in (dc1, dc2):
            await p._read()
            await p._read_shares()
        await dc1._publish()  # dc1 leaves: dc2 was ready as read, and unchanged since
        await dc2._publish()  # dc2's guard sees dc1's share changed: it stays
        assert store.records() == {"10.0.0.2"}
        for _ in range(3):  # neither is ready: both are in DNS, none leaves
            await round_(dc1, dc2)
            assert store.records() == {"10.0.0.1", "10.0.0.2"}

    asyncio.run(run())


def test_a_standby_holds_no_lease_and_writes_nothing() -> None:
    store = Store()
    standby = presence(store, "dc1", 2, leading=False)

    looks = 0
    leading = standby.leadership.leading

    def counted() -> bool:  # each of its loops asks before it writes anything
        nonlocal looks
        looks += 1
        return leading()

    standby.leadership.leading = counted  # type: ignore[method-assign]

    async def run() -> None:
        task = asyncio.create_task(standby.run())
        await asyncio.wait_for(_until(lambda: looks >= 4), timeout=5)  # both loops, twice each at least
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)

    asyncio.run(run())
    assert store.kv == {} and standby.lease == 0


def test_a_lapsed_lease_is_taken_anew_and_everything_published_again() -> None:
    store = Store()
    dc1 = presence(store, "dc1", 2)

    async def run() -> None:
        await round_(dc1)
        first = dc1.lease
        store.lapse(first)
        assert store.records() == set()
        task = asyncio.create_task(dc1.run())
        try:  # until the record is back under a new lease (a round a second: 5 s at most)
            await asyncio.wait_for(_until(lambda: dc1.lease not in (0, first) and store.records() == {"10.0.0.1"}), 5)
        finally:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
        assert dc1.lease not in (0, first)
        assert store.kv[dns_path(HOST) + "/dc1-0"][2] == dc1.lease

    asyncio.run(run())


def test_a_round_does_not_publish_from_a_view_read_before_a_new_lease() -> None:
    """The lease loop may take a new lease while a round is between its read and its publish (the old
    one lapsed in a partition). That round's view does not list this data center, so it does not count
    it as returning: publishing from it would put the data center in DNS inside its failback window."""
    store = Store()

    async def run() -> None:
        _, dc2 = await settled(store)
        store.lapse(dc2.lease)  # dc2 was cut off: its lease, its member record and its DNS record are gone
        members = store.range

        async def range_then_rejoin(prefix: str, serializable: bool = False) -> Range:
            read = await members(prefix, serializable)
            if prefix.endswith("/members/"):  # the read is done; the lease loop re-joins before the publish
                dc2.lease, dc2.published = 0, {}  # as _renew does when it finds the lease lapsed
                await dc2._join()
            return read

        store.range = range_then_rejoin  # type: ignore[method-assign]
        await dc2._round()
        store.range = members  # type: ignore[method-assign]
        assert store.records() == {"10.0.0.1"}, "dc2 published from a view older than its new lease"

    asyncio.run(run())


def test_a_data_center_lost_with_the_stores_leader_returns_after_its_window() -> None:
    """Seen on kind: dc1 died with the store's leader, and the election lapsed dc2's lease too. dc2 read
    dc1 gone while its own lease had just lapsed, dropped the loss, and dc1 came back into DNS (and took
    its share back) without its failback window, while its pods' readiness was still the one from
    before it died. The loss is now recorded once dc2's own lapse is a TTL old."""
    store = Store()

    async def run() -> None:
        dc1, dc2 = await settled(store)
        store.lapse(dc1.lease)  # dc1 is dead
        store.lapse(dc2.lease)  # and the election lapsed dc2's lease
        assert await dc2._renew() is True  # found lapsed: a new one at once
        await dc2._renew()
        await dc2._read()
        assert "/spofless/lost/dc1" not in store.kv  # maybe the store's doing: not yet
        assert dc2._lapsed is not None
        dc2._lapsed -= dc2.settings.lease_seconds  # a TTL later, dc1 still gone: lost
        await dc2._read()
        assert "/spofless/lost/dc1" in store.kv
        await dc2._publish()
        assert store.records() == {"10.0.0.2"}

        back = presence(store, "dc1", 2)  # dc1's spofless starts again, its pods ready as last seen
        await round_(back, dc2)
        await round_(back, dc2)
        assert store.records() == {"10.0.0.2"}, "dc1 is in DNS inside its failback window"
        share = json.loads(store.kv["/spofless/sites/web/shop/dc2"][0])
        assert share["desired"] == 4, "dc2 gave dc1 its share back inside the window"

    asyncio.run(run())


def test_a_failed_renewal_is_tried_again_soon_while_the_lease_may_live(monkeypatch: Any) -> None:
    """The store's leader dying fails renewals until an election; the new leader gives every lease a
    fresh TTL. Waiting a third of the TTL after each failure let the lease of a surviving data center
    lapse on kind."""
    from spofless.operator import datacenters
    from spofless.operator.etcd import Unavailable

    store = Store()
    dc1 = presence(store, "dc1", 2)
    pauses: list[float] = []
    renewals: Iterator[int | Exception] = iter([Unavailable("no leader"), 5, Unavailable("no leader"), 5])

    async def keep_alive(lease: int) -> int:
        outcome = next(renewals)
        if isinstance(outcome, Exception):
            raise outcome
        return outcome

    async def pause(seconds: float) -> None:
        pauses.append(seconds)
        if len(pauses) == 2:  # the next failure comes a TTL after the last renewal: the store is down
            assert dc1._renewed is not None
            dc1._renewed -= dc1.settings.lease_seconds
        if len(pauses) == 4:
            raise asyncio.CancelledError

    async def run() -> None:
        await dc1._join()
        store.keep_alive = keep_alive  # type: ignore[method-assign]
        monkeypatch.setattr(asyncio, "sleep", pause)
        with contextlib.suppress(asyncio.CancelledError):
            await dc1._hold_lease()

    asyncio.run(run())
    # Soon while the lease may live; a third of the TTL once it cannot (no log line 4 times a second).
    assert pauses == [datacenters.RETRY_EVERY, 5 / 3, 5 / 3, 5 / 3]
