"""The nodes' Leases (namespace kube-node-lease), watched to time each one's silence on the
operator's own clock: the zone-silence detector's input (core/placement/silence.py).

Its own list-and-watch rather than a kopf index: the Leases are one namespace's, so the operator
needs list and watch there only (a Role), whatever namespaces it serves. Each Lease's renewTime is
compared with the last one seen: when it changed, the Lease was renewed now, on our clock. A
re-list after the watch broke (not after the server merely ended it: that goes on from the last
version seen) keeps the time a renewTime already seen was first seen (a Lease that
did not change is no fresher for being listed), and restarts `watched_for`: no new verdict comes
until the Leases have been watched long enough again (`broke`: several intervals, as the kubelets'
renewals come back from the same outage on their own retries; core/placement/silence.py).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from spofless.core.placement.silence import LeaseSeen
from spofless.kube import describe

NAMESPACE = "kube-node-lease"
URL = f"/apis/coordination.k8s.io/v1/namespaces/{NAMESPACE}/leases"
DEFAULT_DURATION = 40  # seconds: the kubelet's nodeLeaseDurationSeconds when a Lease says none


@dataclass
class _Lease:
    renew_time: str
    seen_at: float  # monotonic time the operator saw this renewTime first
    interval: float


@dataclass
class NodeLeases:
    client: Any  # operator.client.Client: call() and stream()
    on_change: Callable[[], None] = lambda: None
    clock: Callable[[], float] = time.monotonic
    logger: logging.Logger = field(default_factory=lambda: logging.getLogger("spofless"))
    leases: dict[str, _Lease] = field(default_factory=dict)  # node name -> what was seen of its Lease
    listed_at: float | None = None  # when the current list-and-watch began
    broke: bool = False  # the current list-and-watch follows one that broke (not the operator's start)

    def seen(self, zone_of: Mapping[str, str]) -> list[LeaseSeen]:
        """Every Lease of a node in a zone, with how long it has been silent."""
        now = self.clock()
        return [
            LeaseSeen(node, zone_of[node], now - lease.seen_at, lease.interval)
            for node, lease in self.leases.items()
            if zone_of.get(node)
        ]

    def interval(self) -> float:
        """The longest renew interval of the Leases seen (the kubelet's default when none is seen)."""
        return max((lease.interval for lease in self.leases.values()), default=DEFAULT_DURATION / 4)

    def watched_for(self) -> float:
        return 0.0 if self.listed_at is None else self.clock() - self.listed_at

    def record(self, item: Mapping[str, Any], deleted: bool = False) -> None:
        name = str((item.get("metadata") or {}).get("name") or "")
        if not name:
            return
        if deleted:
            self.leases.pop(name, None)
            return
        spec = item.get("spec") or {}
        renew = str(spec.get("renewTime") or "")
        interval = int(spec.get("leaseDurationSeconds") or DEFAULT_DURATION) / 4
        held = self.leases.get(name)
        if held is None or held.renew_time != renew:
            self.leases[name] = _Lease(renew, self.clock(), interval)

    async def run(self) -> None:
        """List, then watch from that version; start over (timing anew) whenever the watch breaks."""
        while True:
            try:
                version = await self._list()
                while True:
                    version = await self._watch(version)
            except asyncio.CancelledError:
                raise
            except Exception as err:  # a broken watch: list again a moment later
                self.logger.info("watching node Leases: %s; listing them again", describe(err))
                self.listed_at, self.broke = None, True
                await asyncio.sleep(1.0)

    async def _list(self) -> str:
        listed = await self.client.call("GET", URL)
        items = listed.get("items") or []
        names = {str((i.get("metadata") or {}).get("name") or "") for i in items}
        for gone in set(self.leases) - names:
            del self.leases[gone]
        self.listed_at = self.clock()
        for item in items:
            self.record(item)
        return str((listed.get("metadata") or {}).get("resourceVersion") or "")

    async def _watch(self, version: str) -> str:
        """Watches from `version` until the server ends the watch (timeoutSeconds); returns the last
        version seen, to watch on from there. An ERROR (410 Gone: too old) breaks it: list again."""
        query = [("watch", "true"), ("allowWatchBookmarks", "true"), ("resourceVersion", version),
                 ("timeoutSeconds", "290")]  # fmt: skip
        started, events = self.clock(), 0
        async for event in self.client.stream(URL, query):
            events += 1
            kind = event.get("type")
            if kind == "ERROR":
                raise RuntimeError(f"watch error: {event.get('object')}")
            obj = event.get("object") or {}
            version = str((obj.get("metadata") or {}).get("resourceVersion") or version)
            if kind in ("ADDED", "MODIFIED", "DELETED"):
                self.record(obj, deleted=kind == "DELETED")
                self.on_change()
        if not events and self.clock() - started < 1.0:
            raise RuntimeError("the watch ended as soon as it began")  # list again, a moment later
        # The server ended the watch: nothing was missed, so it goes on from `version` without a
        # list, as client-go's reflector does. A list here would restart `watched_for` and blind the
        # detector to a new silence for an interval every 290 s.
        return version

    async def renewed_since(self, nodes: Iterable[str]) -> bool:
        """A fresh read (not the watch): has any of these nodes' Leases been renewed since we last
        saw it? A watch that lags must not make a live zone look silent."""
        listed = await self.client.call("GET", URL)
        fresh = {str(i["metadata"]["name"]): str((i.get("spec") or {}).get("renewTime") or "")
                 for i in listed.get("items") or []}  # fmt: skip
        wanted = set(nodes)
        return any(node in wanted and fresh.get(node) != held.renew_time for node, held in self.leases.items())
