"""The work queue every pass goes through, shaped like client-go's: keys, not events.

- One pending entry per key: adding a key that waits already only raises its lane.
- A key being processed is never handed to a second worker; adding it meanwhile queues it once more,
  to run after the current pass (so no change is lost, and no two passes of one site overlap).
- Lanes: zone health first, then moves, then the rest. Within a lane, first in, first out. A worker
  may be kept for the higher lanes only (`get(lowest)`): the engine keeps some for the zone and moves lanes.
- Timed adds (a failback window ending, a bake, a retry's backoff) wait on one timer per key: the
  earliest due time wins, so a key never sits in the timers twice.
- Per-key backoff with jitter for failed passes, reset by `forget` once a pass succeeds; a throttled
  pass waits at least what the server asked (Retry-After).
"""

from __future__ import annotations

import asyncio
import enum
import random
import time
from collections import deque
from collections.abc import Callable, Hashable
from dataclasses import dataclass, field
from typing import Generic, TypeVar

K = TypeVar("K", bound=Hashable)


class Lane(enum.IntEnum):
    ZONE = 0  # a zone lost: every site's report goes first
    MOVES = 1  # the moves that follow a report, a zone back, a failback window ending
    REST = 2  # everything else: a child changed, a timed step, a resync


LANE_NAMES = {Lane.ZONE: "zone", Lane.MOVES: "moves", Lane.REST: "rest"}


@dataclass(frozen=True)
class Backoff:
    """Exponential per-key backoff with jitter: base * 2^(failures-1), capped, times 1 +- jitter."""

    base: float = 1.0
    cap: float = 300.0
    jitter: float = 0.2

    def delay(self, failures: int, rng: Callable[[], float] = random.random) -> float:
        raw = min(self.cap, self.base * 2.0 ** max(0, failures - 1))
        return raw * (1 + self.jitter * (2 * rng() - 1))


@dataclass
class _Entry:
    lane: Lane
    cause: str
    since: float  # monotonic time it was queued: the wait is reported per pass


@dataclass
class WorkQueue(Generic[K]):
    backoff: Backoff = field(default_factory=Backoff)
    clock: Callable[[], float] = time.monotonic
    _lanes: dict[Lane, deque[K]] = field(default_factory=lambda: {lane: deque() for lane in Lane})
    _pending: dict[K, _Entry] = field(default_factory=dict)  # queued, not yet taken
    _processing: set[K] = field(default_factory=set)
    _again: dict[K, _Entry] = field(default_factory=dict)  # added while processing: queued on done()
    _timers: dict[K, tuple[float, asyncio.TimerHandle, Lane, str]] = field(default_factory=dict)
    _failures: dict[K, int] = field(default_factory=dict)
    # One event per "lowest lane" a worker takes from: an add wakes only the workers that may take it.
    _ready: dict[Lane, asyncio.Event] = field(default_factory=lambda: {lane: asyncio.Event() for lane in Lane})
    _closed: bool = False

    # --- adding --------------------------------------------------------------------------------

    def add(self, key: K, lane: Lane = Lane.REST, cause: str = "") -> None:
        """Queues `key` (once); a key already waiting moves up to `lane` if that is higher."""
        if self._closed:
            return
        if key in self._processing:
            held = self._again.get(key)
            if held is None or lane < held.lane:
                self._again[key] = _Entry(lane, cause, held.since if held else self.clock())
            return
        entry = self._pending.get(key)
        if entry is not None:
            if lane < entry.lane:  # move it to the higher lane; the old slot is skipped when reached
                self._pending[key] = _Entry(lane, cause, entry.since)
                self._lanes[lane].append(key)
                self._wake(lane)
            return
        self._pending[key] = _Entry(lane, cause, self.clock())
        self._lanes[lane].append(key)
        self._wake(lane)

    def add_after(self, key: K, delay: float, lane: Lane = Lane.REST, cause: str = "timer") -> None:
        """Queues `key` after `delay` seconds, unless an earlier timed add of it is already set."""
        if self._closed:
            return
        if delay <= 0:
            self.add(key, lane, cause)
            return
        due = self.clock() + delay
        held = self._timers.get(key)
        if held is not None:
            if held[0] <= due:
                return
            held[1].cancel()
        handle = asyncio.get_running_loop().call_later(delay, self._fire, key)
        self._timers[key] = (due, handle, lane, cause)

    def add_rate_limited(self, key: K, retry_after: float | None = None, cause: str = "retry") -> float:
        """Queues `key` again after its backoff (grown by one failure); returns the delay."""
        failures = self._failures.get(key, 0) + 1
        self._failures[key] = failures
        delay = max(self.backoff.delay(failures), retry_after or 0.0)
        self.add_after(key, delay, Lane.REST, cause)
        return delay

    def forget(self, key: K) -> None:
        """The key's pass succeeded: its next failure starts the backoff from the bottom."""
        self._failures.pop(key, None)

    def failures(self, key: K) -> int:
        return self._failures.get(key, 0)

    def cancel_timer(self, key: K) -> None:
        held = self._timers.pop(key, None)
        if held is not None:
            held[1].cancel()

    def _fire(self, key: K) -> None:
        held = self._timers.pop(key, None)
        if held is not None:
            self.add(key, held[2], held[3])

    # --- taking --------------------------------------------------------------------------------

    async def get(self, lowest: Lane = Lane.REST) -> tuple[K, Lane, str, float]:
        """The next key to process, highest lane first, from no lane below `lowest` (a worker kept for
        the zone lane asks for Lane.ZONE): (key, lane, cause, seconds it waited).
        Raises asyncio.CancelledError once the queue is shut down."""
        while True:
            if self._closed:
                raise asyncio.CancelledError
            taken = self._take(lowest)
            if taken is not None:
                return taken
            # Single-threaded: nothing can be added between the look above and the clear below.
            ready = self._ready[lowest]
            ready.clear()
            await ready.wait()

    def _take(self, lowest: Lane) -> tuple[K, Lane, str, float] | None:
        for lane in (lane for lane in Lane if lane <= lowest):
            queue = self._lanes[lane]
            while queue:
                key = queue.popleft()
                entry = self._pending.get(key)
                if entry is None or entry.lane != lane:
                    continue  # a stale slot: the key was taken already, or moved to a higher lane
                del self._pending[key]
                self._processing.add(key)
                return key, lane, entry.cause, self.clock() - entry.since
        return None

    def done(self, key: K) -> None:
        """The pass of `key` ended; a key added meanwhile is queued now."""
        self._processing.discard(key)
        again = self._again.pop(key, None)
        if again is not None and not self._closed:
            self._pending[key] = again
            self._lanes[again.lane].append(key)
            self._wake(again.lane)

    # --- state ---------------------------------------------------------------------------------

    def depth(self, lane: Lane) -> int:
        return sum(1 for e in list(self._pending.values()) if e.lane == lane)  # list(): atomic, for scrapes

    def __len__(self) -> int:
        return len(self._pending)

    def timed(self) -> frozenset[K]:
        """The keys with a timed add set."""
        return frozenset(self._timers)

    def timers(self) -> list[tuple[K, Lane, str]]:
        """Each key waiting on its timer, with the lane and cause it will be queued with."""
        return [(key, lane, cause) for key, (_, _, lane, cause) in self._timers.items()]

    def processing(self) -> frozenset[K]:
        return frozenset(self._processing)

    def clear(self) -> None:
        """Drops everything queued, timed and remembered (a replica losing leadership)."""
        for _, handle, _, _ in self._timers.values():
            handle.cancel()
        self._timers.clear()
        self._pending.clear()
        self._again.clear()
        self._failures.clear()
        for queue in self._lanes.values():
            queue.clear()

    def shut_down(self) -> None:
        self._closed = True
        self.clear()
        self._wake(Lane.ZONE)

    def _wake(self, lane: Lane) -> None:
        """Wakes the workers that may take from `lane`: those whose lowest lane is `lane` or below."""
        for lowest, ready in self._ready.items():
            if lowest >= lane:
                ready.set()
