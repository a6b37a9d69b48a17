"""CapacityShort: replicas the scheduler could not place, with its own reason.

After a failover the healthy zones may lack room for the moved replicas; their pods then sit
Pending with PodScheduled=False, reason Unschedulable, and the scheduler's message. Pods of a
zone out of service are left out: they wait for their zone, which is the outage itself.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from spofless.core.model.status import Finding
from spofless.core.observed.records import Pod

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
MESSAGE_LIMIT = 240  # the scheduler's message can list every node class: keep the status readable


@dataclass(frozen=True)
class Short:
    zone: str
    pending: int
    reason: str  # the scheduler's message for the longest-waiting pod

    @property
    def message(self) -> str:
        reason = self.reason if len(self.reason) <= MESSAGE_LIMIT else self.reason[: MESSAGE_LIMIT - 3] + "..."
        return f"{self.pending} replica{'s' if self.pending != 1 else ''} Pending in {self.zone}: {reason}"


def shortfalls(pods: Iterable[Pod], out_of_service: Sequence[str]) -> list[Short]:
    """Unschedulable replicas per in-service zone, by zone name."""
    waiting: dict[str, list[Pod]] = {}
    for pod in pods:
        if pod.unschedulable and not pod.terminating and not pod.node and pod.zone not in out_of_service:
            waiting.setdefault(pod.zone, []).append(pod)
    out = []
    for zone, group in sorted(waiting.items()):
        first = min(group, key=lambda p: (p.unschedulable_since is not None, p.unschedulable_since or _EPOCH, p.name))
        out.append(Short(zone, len(group), (first.unschedulable_message or "no room").strip()))
    return out


def findings(shorts: Sequence[Short]) -> list[Finding]:
    return [
        Finding(scope="Capacity", name=s.zone, severity="Warning", message=f"CapacityShort: {s.message}")
        for s in shorts
    ]


def condition_message(shorts: Sequence[Short]) -> str:
    return "; ".join(s.message for s in shorts) if shorts else "every replica of an in-service zone is scheduled"
