"""One resource's list-and-watch, as client-go's reflector does it, for the objects the operator sees
by the thousand (pods, EndpointSlices, node Leases): each object goes to one callback, with no
per-object worker, queue or copy in between.

kopf runs a worker task per object with events, and its index and event handlers in it; with 1000
sites in a fleet failover that machinery was a third of the operator's CPU (py-spy), for objects of
which a pass reads a few fields. A Reflector lists, then watches from the list's version; the server
ending a watch (timeoutSeconds) goes on from the last version seen, and only a watch that broke (an
error, a 410 Gone) lists again, telling `apply` which objects went while nobody watched.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from spofless.kube import describe

Apply = Callable[[str, Mapping[str, Any] | None], None]  # (key, the object; None: it is gone)
WATCH_SECONDS = 290  # the server ends each watch after this; the next goes on from its last version
RELIST_DELAY = 1.0  # seconds after a watch broke before listing again


def uid_of(obj: Mapping[str, Any]) -> str:
    return str((obj.get("metadata") or {}).get("uid") or "")


@dataclass
class Reflector:
    client: Any  # operator.client.Client: call() and stream()
    url: str
    apply: Apply
    what: str  # for the log
    key: Callable[[Mapping[str, Any]], str] = uid_of
    on_listed: Callable[[], None] = lambda: None  # after every list (the first one: the objects are all in)
    on_change: Callable[[], None] = lambda: None  # after every event
    on_break: Callable[[], None] = lambda: None  # the watch broke: a list follows
    clock: Callable[[], float] = time.monotonic
    logger: logging.Logger = field(default_factory=lambda: logging.getLogger("spofless"))
    _known: set[str] = field(default_factory=set)
    _listed_once: bool = False

    async def run(self) -> None:
        """List, then watch from that version; start over whenever the watch breaks."""
        while True:
            try:
                version = await self._list()
                while True:
                    version = await self._watch(version)
            except asyncio.CancelledError:
                raise
            except Exception as err:  # a broken watch: list again a moment later
                self.logger.info("watching %s: %s; listing them again", self.what, describe(err))
                self.on_break()
                await asyncio.sleep(RELIST_DELAY)

    async def _list(self) -> str:
        # The first list from the API server's watch cache (resourceVersion 0), as client-go's does: no
        # read of etcd for thousands of objects at start-up. A list after a break reads the latest, so
        # nothing already seen goes back in time.
        query = [("resourceVersion", "0")] if not self._listed_once else None
        listed = await self.client.call("GET", self.url, query=query)
        self._listed_once = True
        items = listed.get("items") or []
        keys = [self.key(item) for item in items]
        for gone in sorted(self._known - set(keys)):
            self.apply(gone, None)
        self._known = {k for k in keys if k}
        for key, item in zip(keys, items, strict=True):
            if key:
                self.apply(key, item)
        self.on_listed()
        return str((listed.get("metadata") or {}).get("resourceVersion") or "")

    async def _watch(self, version: str) -> str:
        """Watches from `version` until the server ends the watch; returns the last version seen, to
        watch on from there. An ERROR (410 Gone: too old) breaks it: list again."""
        query = [("watch", "true"), ("allowWatchBookmarks", "true"), ("resourceVersion", version),
                 ("timeoutSeconds", str(WATCH_SECONDS))]  # fmt: skip
        started, events = self.clock(), 0
        async for event in self.client.stream(self.url, query):
            events += 1
            kind = event.get("type")
            if kind == "ERROR":
                raise RuntimeError(f"watch error: {event.get('object')}")
            obj = event.get("object") or {}
            version = str((obj.get("metadata") or {}).get("resourceVersion") or version)
            if kind not in ("ADDED", "MODIFIED", "DELETED"):
                continue  # a BOOKMARK: only its version
            key = self.key(obj)
            if not key:
                continue
            if kind == "DELETED":
                self._known.discard(key)
                self.apply(key, None)
            else:
                self._known.add(key)
                self.apply(key, obj)
            self.on_change()
        if not events and self.clock() - started < 1.0:
            raise RuntimeError("the watch ended as soon as it began")  # list again, a moment later
        # The server ended the watch: nothing was missed, so it goes on from `version` without a list,
        # as client-go's reflector does.
        return version
