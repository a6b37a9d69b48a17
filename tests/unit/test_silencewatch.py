"""The detector at work: a verdict confirmed by a fresh read, said once, undone when the zone renews;
a kubelet that writes Ready back is a return when the Leases follow, a contradiction when they do not."""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

from spofless.core.observed.records import Node, Pod
from spofless.operator.leasewatch import NodeLeases
from spofless.operator.silencewatch import SilenceWatch

ZONE_KEY = "topology.kubernetes.io/zone"
NODES = {f"{z}-0": Node(f"{z}-0", {ZONE_KEY: z}, True) for z in ("a", "b", "c")}


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class FreshRead:
    """What the API server says of the Leases when read afresh."""

    def __init__(self, leases: NodeLeases) -> None:
        self.leases = leases
        self.renewed: set[str] = set()

    async def call(self, method: str, url: str, body: Any = None, query: Any = None) -> dict[str, Any]:
        items = [
            {"metadata": {"name": n}, "spec": {"renewTime": ("later" if n in self.renewed else lease.renew_time)}}
            for n, lease in self.leases.leases.items()
        ]
        return {"items": items, "metadata": {"resourceVersion": "1"}}


def watch(clock: Clock) -> tuple[SilenceWatch, NodeLeases, FreshRead, list[str]]:
    leases = NodeLeases(client=None, clock=clock)
    fresh = FreshRead(leases)
    leases.client = fresh
    said: list[str] = []
    for name in NODES:
        leases.record({"metadata": {"name": name}, "spec": {"renewTime": "t0", "leaseDurationSeconds": 40}})
    leases.listed_at = clock.now - 60
    return SilenceWatch(leases, said.append, lambda _d, _c: None, clock=clock), leases, fresh, said


def renew(leases: NodeLeases, *nodes: str, stamp: str = "t1") -> None:
    for node in nodes:
        leases.record({"metadata": {"name": node}, "spec": {"renewTime": stamp, "leaseDurationSeconds": 40}})


def test_a_zone_whose_leases_stopped_is_judged_silent_once_and_undone_when_it_renews() -> None:
    clock = Clock()
    silence, leases, _, said = watch(clock)

    async def scenario() -> list[str | None]:
        zones = []
        for _ in range(3):  # 13 s on: a and c renew, b does not
            clock.now += 13
            renew(leases, "a-0", "c-0", stamp=str(clock.now))
            await silence.tick(NODES)
            zones.append(silence.zone)
        renew(leases, "b-0", stamp="back")
        await silence.tick(NODES)
        zones.append(silence.zone)
        return zones

    assert asyncio.run(scenario()) == ["b", "b", "b", None]
    assert said == ["silence", "silence"]
    assert "b" in silence.view().recovered_for


def test_a_fresh_read_that_shows_a_renewal_holds_the_verdict() -> None:
    clock = Clock()
    silence, leases, fresh, said = watch(clock)
    fresh.renewed.add("b-0")  # the watch lags; the API server has the renewal
    clock.now += 13
    renew(leases, "a-0", "c-0", stamp="t1")
    asyncio.run(silence.tick(NODES))
    assert silence.zone is None and said == []


def ready_pod(zone: str) -> Pod:
    return Pod(name="shop-b-0", zone=zone, node=f"{zone}-0", ready=True, terminating=False)


def test_a_kubelet_writing_ready_back_while_the_leases_stay_silent_contradicts_the_silence() -> None:
    clock = Clock()
    silence, leases, _, said = watch(clock)

    async def scenario() -> None:
        clock.now += 13
        renew(leases, "a-0", "c-0", stamp="t1")
        await silence.tick(NODES)
        silence.took_out("web", "shop-b-0", "b", "10")
        silence.pod_seen("web", ready_pod("b"), "9")  # an event from before our write: no evidence
        assert not silence.suspect
        silence.pod_seen("web", ready_pod("b"), "12")
        clock.now += 5
        renew(leases, "a-0", "c-0", stamp="t2")
        await silence.tick(NODES)
        assert silence.zone == "b", "suspect only, inside a renew interval"
        clock.now += 8
        renew(leases, "a-0", "c-0", stamp="t3")
        await silence.tick(NODES)

    asyncio.run(scenario())
    assert silence.zone is None and silence.view().held_off == ("b",)
    assert said == ["silence", "silence"]


def test_a_zone_coming_back_writes_ready_then_renews_and_is_no_contradiction() -> None:
    clock = Clock()
    silence, leases, _, _ = watch(clock)

    async def scenario() -> None:
        clock.now += 13
        renew(leases, "a-0", "c-0", stamp="t1")
        await silence.tick(NODES)
        silence.took_out("web", "shop-b-0", "b", "10")
        silence.pod_seen("web", ready_pod("b"), "12")  # the kubelet first...
        clock.now += 2
        renew(leases, "a-0", "b-0", "c-0", stamp="t2")  # ...then its Lease
        await silence.tick(NODES)

    asyncio.run(scenario())
    assert silence.zone is None and silence.view().held_off == () and not silence.suspect


def test_the_leases_listed_again_keep_a_silent_zone_silent() -> None:
    """A watch that broke and was listed again: b's Lease did not change, so it is no fresher for
    being listed; the verdict holds and b is not reported as back (no leftover eviction follows)."""
    clock = Clock()
    silence, leases, _, _ = watch(clock)

    async def scenario() -> tuple[str | None, str | None]:
        clock.now += 13
        renew(leases, "a-0", "c-0", stamp="t1")
        await silence.tick(NODES)
        judged = silence.zone
        await leases.reflector()._list()
        clock.now += 1
        await silence.tick(NODES)
        return judged, silence.zone

    assert asyncio.run(scenario()) == ("b", "b")
    assert "b" not in silence.view().recovered_for


class Server:
    """A list, then watches the server ends by itself (timeoutSeconds): what each was asked from."""

    def __init__(self, clock: Clock) -> None:
        self.clock = clock
        self.lists = 0
        self.watched_from: list[str] = []

    async def call(self, method: str, url: str, body: Any = None, query: Any = None) -> dict[str, Any]:
        self.lists += 1
        items = [{"metadata": {"name": n, "resourceVersion": "5"}, "spec": {"renewTime": "t0"}} for n in NODES]
        return {"items": items, "metadata": {"resourceVersion": "5"}}

    async def stream(self, url: str, query: list[tuple[str, str]]) -> Any:
        self.watched_from.append(dict(query)["resourceVersion"])
        if len(self.watched_from) == 3:
            raise asyncio.CancelledError  # the end of the scenario
        self.clock.now += 290  # the server's timeout
        yield {"type": "MODIFIED", "object": {"metadata": {"name": "a-0", "resourceVersion": "7"},
                                              "spec": {"renewTime": f"t{len(self.watched_from)}"}}}  # fmt: skip
        yield {"type": "BOOKMARK", "object": {"metadata": {"resourceVersion": str(8 + len(self.watched_from))}}}


def test_a_watch_the_server_ends_goes_on_from_its_last_version_without_timing_anew() -> None:
    """Listing again every 290 s would restart watched_for and blind the detector for an interval."""
    clock = Clock()
    server = Server(clock)
    leases = NodeLeases(client=server, clock=clock)

    async def scenario() -> None:
        with contextlib.suppress(asyncio.CancelledError):
            await leases.run()

    asyncio.run(scenario())
    assert server.lists == 1
    assert server.watched_from == ["5", "9", "10"]
    assert leases.watched_for() == 580
