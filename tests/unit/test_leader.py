"""The leader election's rules, against an in-process Lease store that answers like the API server
(a resourceVersion per write, 409 on a stale update)."""

from __future__ import annotations

import asyncio
import contextlib
import copy
from typing import Any

import pytest
from kubernetes_asyncio.client.exceptions import ApiException

from spofless.operator import leader
from spofless.operator.leader import Elector, Leadership


class Leases:
    def __init__(self) -> None:
        self.lease: dict[str, Any] | None = None
        self.version = 0
        self.down = False  # the API server does not answer

    async def get_lease(self, namespace: str, name: str) -> dict[str, Any] | None:
        if self.down:
            raise ApiException(status=503, reason="Service Unavailable")
        return copy.deepcopy(self.lease)

    async def put_lease(self, namespace: str, lease: dict[str, Any]) -> dict[str, Any]:
        if self.down:
            raise ApiException(status=503, reason="Service Unavailable")
        have = (self.lease or {}).get("metadata", {}).get("resourceVersion")
        if lease["metadata"].get("resourceVersion") != have:
            raise ApiException(status=409, reason="Conflict")
        self.version += 1
        self.lease = copy.deepcopy(lease)
        self.lease["metadata"]["resourceVersion"] = str(self.version)
        return copy.deepcopy(self.lease)


class Replica:
    def __init__(self, leases: Leases, identity: str) -> None:
        self.leadership = Leadership(identity)
        self.starts = self.stops = 0
        self.elector = Elector(leases, "ns", "spofless", self.leadership, self._start, self._stop)  # type: ignore[arg-type]

    async def _start(self) -> None:
        self.starts += 1

    async def _stop(self) -> None:
        self.stops += 1

    async def step(self) -> None:
        with contextlib.suppress(ApiException):  # a failed step is the election's own business
            await self.elector._try()
        await self.elector._follow()


@pytest.fixture(autouse=True)
def fast(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(leader, "LEASE_SECONDS", 1)
    monkeypatch.setattr(leader, "RENEW_DEADLINE", 0.6)


def test_the_first_replica_leads_and_the_second_stands_by() -> None:
    async def scenario() -> tuple[bool, bool, str]:
        leases = Leases()
        a, b = Replica(leases, "a"), Replica(leases, "b")
        await a.step()
        await b.step()
        await a.step()  # a renewal
        assert leases.lease is not None
        return a.leadership.leading(), b.leadership.leading(), leases.lease["spec"]["holderIdentity"]

    assert asyncio.run(scenario()) == (True, False, "a")


def test_a_silent_leader_is_replaced_after_the_lease_duration_and_stops_writing_before() -> None:
    async def scenario() -> list[tuple[str, bool, bool]]:
        leases = Leases()
        a, b = Replica(leases, "a"), Replica(leases, "b")
        await a.step()
        await b.step()  # b sees a's record and starts timing it
        out = [("start", a.leadership.leading(), b.leadership.leading())]
        await asyncio.sleep(0.7)  # a is frozen (no renewals): past its renew deadline, inside the lease
        out.append(("deadline", a.leadership.leading(), b.leadership.leading()))
        await b.step()
        out.append(("inside lease", a.leadership.leading(), b.leadership.leading()))
        await asyncio.sleep(0.4)  # past the lease duration on b's clock
        await b.step()
        out.append(("expired", a.leadership.leading(), b.leadership.leading()))
        await a.step()  # a wakes up: it finds b holding the lease and stays down
        out.append(("a back", a.leadership.leading(), b.leadership.leading()))
        return out

    assert asyncio.run(scenario()) == [
        ("start", True, False),
        ("deadline", False, False),  # a stopped writing before anyone could take over
        ("inside lease", False, False),
        ("expired", False, True),
        ("a back", False, True),
    ]


def test_two_standbys_racing_for_an_expired_lease_get_one_leader() -> None:
    async def scenario() -> tuple[bool, bool, int]:
        leases = Leases()
        a, b, c = Replica(leases, "a"), Replica(leases, "b"), Replica(leases, "c")
        await a.step()
        await b.step()
        await c.step()
        await asyncio.sleep(1.1)
        await asyncio.gather(b.step(), c.step())  # both read the same record; one update wins (409)
        assert leases.lease is not None
        return b.leadership.leading(), c.leadership.leading(), leases.lease["spec"]["leaseTransitions"]

    b_leads, c_leads, transitions = asyncio.run(scenario())
    assert b_leads != c_leads
    assert transitions == 1


def test_a_leader_that_cannot_reach_the_api_server_steps_down_and_says_so() -> None:
    async def scenario() -> tuple[int, int, bool]:
        leases = Leases()
        a = Replica(leases, "a")
        await a.step()
        leases.down = True
        await asyncio.sleep(0.7)
        await a.step()
        return a.starts, a.stops, a.leadership.leading()

    assert asyncio.run(scenario()) == (1, 1, False)


def test_a_graceful_stop_releases_the_lease_for_an_immediate_takeover() -> None:
    async def scenario() -> tuple[bool, str]:
        leases = Leases()
        a, b = Replica(leases, "a"), Replica(leases, "b")
        await a.step()
        await b.step()
        await a.elector.release()
        await b.step()  # no holder: taken at once, no waiting for the lease to run out
        assert leases.lease is not None
        return b.leadership.leading(), leases.lease["spec"]["holderIdentity"]

    assert asyncio.run(scenario()) == (True, "b")


def test_always_leads_without_a_lease() -> None:
    assert Leadership("standalone", always=True).leading()
