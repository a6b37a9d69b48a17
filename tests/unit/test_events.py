"""Events: sent in the background by a few senders, never by a replica that no longer leads, and
dropped (counted) past a full queue, so a burst cannot crowd out the writes that matter."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Mapping
from typing import Any

from prometheus_client import REGISTRY

from spofless.core.model.events import Event
from spofless.operator.events import EventSender
from spofless.operator.leader import Leadership

BODY = {"metadata": {"name": "shop", "namespace": "web"}}


def _event(reason: str) -> Event:
    return Event(reason=reason, message=reason, type="Normal")


def _dropped() -> float:
    return REGISTRY.get_sample_value("spofless_events_dropped_total") or 0.0


async def _until(met: Callable[[], bool], timeout: float = 2.0) -> None:
    async def poll() -> None:
        while not met():
            await asyncio.sleep(0.001)

    await asyncio.wait_for(poll(), timeout)


def test_events_are_sent_by_at_most_the_senders_at_once() -> None:
    async def run() -> tuple[list[str], int]:
        sent: list[str] = []
        in_flight, most = 0, 0

        async def send(_: Mapping[str, Any], event: Event) -> None:
            nonlocal in_flight, most
            in_flight += 1
            most = max(most, in_flight)
            await asyncio.sleep(0.001)  # the fake's own latency: sends overlap as real ones do
            in_flight -= 1
            sent.append(event.reason)

        sender = EventSender(send, Leadership("me", always=True), senders=3)
        sender.start()
        for i in range(30):
            sender.post(BODY, _event(f"E{i}"))
        await _until(lambda: len(sent) == 30)
        await sender.close()
        return sent, most

    sent, most = asyncio.run(run())
    assert sorted(sent) == sorted(f"E{i}" for i in range(30))
    assert most == 3


def test_a_full_queue_drops_and_counts_instead_of_blocking() -> None:
    async def run() -> int:
        gate = asyncio.Event()

        async def send(_: Mapping[str, Any], __: Event) -> None:
            await gate.wait()

        sender = EventSender(send, Leadership("me", always=True), senders=1, max_queued=5)
        sender.start()
        before = _dropped()
        sender.post(BODY, _event("E0"))
        await _until(lambda: sender.pending() == 0)  # taken by the sender, which now hangs on it
        for i in range(1, 10):  # five wait, four are dropped
            sender.post(BODY, _event(f"E{i}"))
        dropped = _dropped() - before
        gate.set()
        await sender.close()
        return int(dropped)

    assert asyncio.run(run()) == 4


def test_a_replica_that_stopped_leading_sends_nothing_it_queued() -> None:
    async def run() -> tuple[list[str], float]:
        sent: list[str] = []
        leadership = Leadership("me")

        async def send(_: Mapping[str, Any], event: Event) -> None:
            sent.append(event.reason)

        sender = EventSender(send, leadership, senders=2)
        sender.start()
        before = _dropped()
        leadership.renewed(time.monotonic())
        sender.post(BODY, _event("Failover"))  # queued by a pass while leading ...
        leadership.lost()  # ... and the Lease is gone before the senders run
        await _until(lambda: _dropped() - before == 1)
        await sender.close()
        return sent, _dropped() - before

    sent, dropped = asyncio.run(run())
    assert sent == [] and dropped == 1


def test_a_failed_send_is_not_a_failed_sender() -> None:
    async def run() -> list[str]:
        sent: list[str] = []

        async def send(_: Mapping[str, Any], event: Event) -> None:
            if event.reason == "Bad":
                raise OSError("connection reset")
            sent.append(event.reason)

        sender = EventSender(send, Leadership("me", always=True), senders=1)
        sender.start()
        for reason in ("Bad", "Good"):
            sender.post(BODY, _event(reason))
        await _until(lambda: sent == ["Good"])
        await sender.close()
        return sent

    assert asyncio.run(run()) == ["Good"]
