"""Events go out behind the writes that matter, as client-go's event broadcaster sends them: from a
bounded queue, by a few senders, dropped (and counted) when the queue is full.

A pass never waits on an event. Sent one task each, 1000 sites' ZoneLost events could take most of the
client's connections at the moment their status reports needed them (a zone lost under 1000 sites:
the reports' p50 was 7 s). An event is a line in `kubectl describe`; the status says the same.
Only the leader sends: an event queued before this replica lost the Lease is dropped, not sent.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from spofless.core.model.events import Event
from spofless.operator import metrics
from spofless.operator.leader import Leadership

SENDERS = 4  # events in flight at most
MAX_QUEUED = 1000  # client-go's broadcaster keeps as many; past it, new events are dropped

Send = Callable[[Mapping[str, Any], Event], Awaitable[None]]


@dataclass
class EventSender:
    send: Send
    leadership: Leadership
    logger: logging.Logger = field(default_factory=lambda: logging.getLogger("spofless"))
    senders: int = SENDERS
    max_queued: int = MAX_QUEUED
    _queue: asyncio.Queue[tuple[Mapping[str, Any], Event]] | None = None
    _tasks: list[asyncio.Task[None]] = field(default_factory=list)

    def start(self) -> None:
        self._queue = asyncio.Queue(self.max_queued)
        loop = asyncio.get_running_loop()
        self._tasks = [loop.create_task(self._run(), name=f"spofless-events-{i}") for i in range(self.senders)]

    def post(self, body: Mapping[str, Any], event: Event) -> None:
        """Queues an event on `body`; never blocks, never raises."""
        assert self._queue is not None, "start() first"
        try:
            self._queue.put_nowait((body, event))
        except asyncio.QueueFull:
            metrics.EVENTS_DROPPED.inc()

    def pending(self) -> int:
        return self._queue.qsize() if self._queue is not None else 0

    async def close(self) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    async def _run(self) -> None:
        assert self._queue is not None
        while True:
            body, event = await self._queue.get()
            if not self.leadership.leading():
                metrics.EVENTS_DROPPED.inc()
                continue
            try:
                await self.send(body, event)
                metrics.API_WRITES.labels("event").inc()
            except asyncio.CancelledError:
                raise
            except Exception as err:  # an event lost is a line less in `kubectl describe`, never a failed pass
                self.logger.debug("could not post event %s on %s: %r", event.reason,
                                  (body.get("metadata") or {}).get("name"), err)  # fmt: skip
