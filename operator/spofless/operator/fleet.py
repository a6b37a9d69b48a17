"""Passes over every site at once, for what changes every site together: a node turning Ready or
NotReady (a zone lost or back), or the room the headroom weighs.

One worker, not a task per site per node event: a zone of 15 nodes going down would otherwise
start 15 x N passes. Statuses first: every site's status is written (the loss reported) in a
round of status-only passes before the round that moves replicas, so the report never waits
behind N sites' applies. A node change during a round starts over with statuses. At most
CONCURRENCY passes are in flight, so the API server is never flooded and other clients keep
being served.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Iterable

from spofless.operator.reconciler import SiteKey

CONCURRENCY = 16  # passes in flight; the client's pool allows 100 connections

Pass = Callable[[SiteKey, bool], Awaitable[None]]  # (site, status_only)


class Fleet:
    def __init__(self, logger: logging.Logger | None = None) -> None:
        self.logger = logger or logging.getLogger("spofless")
        self._dirty = asyncio.Event()
        self._worker: asyncio.Task[None] | None = None
        self._sites: Callable[[], Iterable[SiteKey]] = list
        self._pass: Pass | None = None

    def touch(self, sites: Callable[[], Iterable[SiteKey]], run_pass: Pass) -> None:
        """Something every site depends on changed: run (or rerun) a round of `run_pass` over `sites()`."""
        self._sites, self._pass = sites, run_pass
        self._dirty.set()
        if self._worker is None or self._worker.done():
            self._worker = asyncio.get_running_loop().create_task(self._work())

    async def _work(self) -> None:
        while self._dirty.is_set():
            self._dirty.clear()
            if not await self._round(status_only=True):
                continue  # changed again meanwhile: statuses first, again
            await self._round(status_only=False)

    async def _round(self, status_only: bool) -> bool:
        """One pass per site, CONCURRENCY at a time; False when cut short by a newer change."""
        queue, run_pass = list(self._sites()), self._pass
        assert run_pass is not None
        gate = asyncio.Semaphore(CONCURRENCY)

        async def one(key: SiteKey) -> None:
            async with gate:
                if self._dirty.is_set():
                    return
                try:
                    await run_pass(key, status_only)
                except Exception as err:  # a pass failing must not stop the round for the others
                    self.logger.warning("fleet pass of %s/%s failed: %s", *key, err)

        await asyncio.gather(*(one(key) for key in queue))
        return not self._dirty.is_set()

    async def close(self) -> None:
        if self._worker is not None:
            self._worker.cancel()
