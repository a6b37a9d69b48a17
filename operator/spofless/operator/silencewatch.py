"""The zone-silence detector at work, once for the cluster: every second the leader judges the node
Leases (core/placement/silence.py), confirms a new verdict with a fresh read, and puts every site's
report first when a zone turns silent or renews again.

It also keeps what the sites' passes need of the past: zones that renewed again and since when (a
pod still marked by spofless after a while is a leftover to evict), and zones held off because a
kubelet wrote a pod's Ready back while they were judged silent: the zone is alive.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from spofless.core.model.spec import DEFAULT_TOPOLOGY_KEY
from spofless.core.observed.records import Node, Pod, ZoneSilence
from spofless.core.placement import silence
from spofless.core.site.silent import LEFTOVER_SECONDS
from spofless.operator.leasewatch import NodeLeases
from spofless.operator.overlay import caught_up

RECOVERED_KEPT = 600.0  # seconds a zone that renewed again is still reported as such (for leftovers)


@dataclass
class SilenceWatch:
    leases: NodeLeases
    report_all: Callable[[str], None]  # every site's report first (the engine's zone lane)
    later: Callable[[float, str], None]  # every site once, after a delay (the leftovers' check)
    clock: Callable[[], float] = time.monotonic
    logger: logging.Logger = field(default_factory=lambda: logging.getLogger("spofless"))
    zone: str | None = None  # judged silent now
    silent_for: float = 0.0
    recovered: dict[str, float] = field(default_factory=dict)  # zone -> when it renewed again
    held_off: dict[str, float] = field(default_factory=dict)  # zone -> until when
    # (namespace, pod) taken out of its Service -> (its zone, the pod's resourceVersion after that write)
    marked: dict[tuple[str, str], tuple[str, str]] = field(default_factory=dict)
    suspect: dict[str, float] = field(default_factory=dict)  # zone -> when a pod of it showed Ready again

    async def tick(self, nodes: dict[str, Node]) -> None:
        """One look: judge, confirm a new verdict with a fresh read, and say when it changed."""
        now = self.clock()
        zone_of = {name: n.zone(DEFAULT_TOPOLOGY_KEY) or "" for name, n in nodes.items()}
        held = {z for z, until in self.held_off.items() if until > now}
        verdict = silence.judge(self.leases.seen(zone_of), self.leases.watched_for(), held, judged=self.zone,
                                after_break=self.leases.broke)  # fmt: skip
        if self._contradicted(verdict, now):
            return
        if verdict.zone is not None and verdict.zone != self.zone:
            members = [n for n, z in zone_of.items() if z == verdict.zone]
            if await self.leases.renewed_since(members):
                return  # the watch lags: a fresh read shows a renewal; no verdict on a stale view
            self.logger.warning("zone %s is silent: none of its %d node Lease(s) renewed for %.0f s, while the other "
                                "zones renew theirs", verdict.zone, len(members), verdict.silent_for)  # fmt: skip
        elif verdict.looks_silent and verdict.zone is None and verdict.held_by and self.zone is None:
            self.logger.info("zone(s) %s look silent, not acted on: %s", ", ".join(verdict.looks_silent),
                             verdict.held_by)  # fmt: skip
        self.silent_for = verdict.silent_for
        if verdict.zone == self.zone:
            return
        if self.zone is not None:
            self.recovered[self.zone] = now
            self.logger.warning("zone %s is no longer judged silent: a node Lease of it renewed", self.zone)
            self.later(LEFTOVER_SECONDS + 1, "silence")  # then pods still marked are leftovers
        if verdict.zone is not None:
            self.recovered.pop(verdict.zone, None)
        self.zone = verdict.zone
        self.report_all("silence")

    def pod_seen(self, namespace: str, pod: Pod, version: str) -> None:
        """A pod spofless took out of its Service shows Ready again, in a version written after ours
        (an older one is an event still in flight), while its zone is judged silent: its kubelet runs.
        A zone coming back writes its pods' Ready and renews its Leases within a renew interval of each
        other, in either order; so the zone is only suspect now, and contradicted if its Leases are
        still silent a full interval later (`_contradicted`)."""
        held = self.marked.get((namespace, pod.name))
        if held is None or not pod.ready:
            return
        zone, ours = held
        if version == ours or not caught_up(version, ours):
            return
        del self.marked[(namespace, pod.name)]
        if zone == self.zone:
            self.suspect.setdefault(zone, self.clock())

    def _contradicted(self, verdict: silence.Silence, now: float) -> bool:
        """A suspect zone whose Leases renewed meanwhile came back; one still silent a renew interval
        after a kubelet wrote Ready is alive but not renewing: hold it off and undo the verdict."""
        for zone, since in list(self.suspect.items()):
            if verdict.zone != zone:
                del self.suspect[zone]  # its Leases renewed: a return, not a contradiction
                continue
            if now - since < self.leases.interval() + silence.MARGIN_SECONDS:
                continue
            del self.suspect[zone]
            self.logger.warning("zone %s is alive: a kubelet wrote a pod's Ready back, yet its Leases stay silent; "
                                "not judged silent for %.0f s", zone, silence.HOLD_OFF_SECONDS)  # fmt: skip
            self.held_off[zone] = now + silence.HOLD_OFF_SECONDS
            self.recovered[zone] = now
            self.zone = None
            self.report_all("silence")
            return True
        return False

    def took_out(self, namespace: str, pod: str, zone: str, version: str) -> None:
        self.marked[(namespace, pod)] = (zone, version)

    def view(self) -> ZoneSilence:
        """The verdict as a pass reads it."""
        now = self.clock()
        recovered = {z: now - t for z, t in self.recovered.items() if now - t < RECOVERED_KEPT and z != self.zone}
        held = tuple(sorted(z for z, until in self.held_off.items() if until > now))
        return ZoneSilence(DEFAULT_TOPOLOGY_KEY, self.zone, self.silent_for, recovered, held)

    def reset(self) -> None:
        """Leadership lost: a new leader judges from its own observations."""
        self.zone, self.silent_for = None, 0.0
        self.marked.clear()
