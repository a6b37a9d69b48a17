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

import logging
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from spofless.core.placement.silence import LeaseSeen
from spofless.operator.reflector import Reflector

NAMESPACE = "kube-node-lease"
URL = f"/apis/coordination.k8s.io/v1/namespaces/{NAMESPACE}/leases"
DEFAULT_DURATION = 40  # seconds: the kubelet's nodeLeaseDurationSeconds when a Lease says none


def _name_of(item: Mapping[str, Any]) -> str:
    return str((item.get("metadata") or {}).get("name") or "")


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
    _reflector: Reflector | None = None

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
        name = _name_of(item)
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

    def _apply(self, name: str, item: Mapping[str, Any] | None) -> None:
        if item is None:
            self.leases.pop(name, None)
        else:
            self.record(item)

    def _listed(self) -> None:
        self.listed_at = self.clock()

    def _broke(self) -> None:
        self.listed_at, self.broke = None, True

    def reflector(self) -> Reflector:
        if self._reflector is None:
            self._reflector = Reflector(self.client, URL, self._apply, "node Leases", key=_name_of,
                                        on_listed=self._listed, on_change=self.on_change, on_break=self._broke,
                                        clock=self.clock, logger=self.logger)  # fmt: skip
        return self._reflector

    async def run(self) -> None:
        """List, then watch from that version; start over (timing anew) whenever the watch breaks."""
        await self.reflector().run()

    async def renewed_since(self, nodes: Iterable[str]) -> bool:
        """A fresh read (not the watch): has any of these nodes' Leases been renewed since we last
        saw it? A watch that lags must not make a live zone look silent."""
        listed = await self.client.call("GET", URL)
        fresh = {str(i["metadata"]["name"]): str((i.get("spec") or {}).get("renewTime") or "")
                 for i in listed.get("items") or []}  # fmt: skip
        wanted = set(nodes)
        return any(node in wanted and fresh.get(node) != held.renew_time for node, held in self.leases.items())
