"""Where a blast's time goes once the moves are written: the cluster's own pipeline and its CPU.

Two looks the blast bench takes for the operator's phase and the floor's alike:

- `Cpu`: CPU seconds of each control-plane process (by its command name, every process of that name:
  the bench runs alone on the machine) and how busy the whole machine was, between two snapshots;
- `stages`: for the pods made after the zone was lost, outside it, when each was created, scheduled
  and Ready (their conditions' times, 1 s resolution) from the zone's loss: the scheduler's and
  KWOK's share of "capacity back", apart from the Deployment controllers' (which report readyReplicas).
"""

from __future__ import annotations

import os
import statistics
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

# /proc/<pid>/comm is cut at 15 characters.
COMPONENTS = {
    "kube-apiserver": "kube-apiserver",
    "etcd": "etcd",
    "kube-controller": "kube-controller-manager",
    "kube-scheduler": "kube-scheduler",
    "kwok-controller": "kwok",
    "metrics-server": "metrics-server",
}


@dataclass(frozen=True)
class CpuSnapshot:
    by_component: dict[str, float]  # CPU seconds so far, summed over the component's processes
    busy: float  # machine-wide non-idle CPU seconds so far
    total: float  # machine-wide CPU seconds so far (all cores)


def cpu_snapshot(proc: Path = Path("/proc")) -> CpuSnapshot:
    tick = os.sysconf("SC_CLK_TCK")
    by: dict[str, float] = {}
    for entry in proc.iterdir():
        if not entry.name.isdigit():
            continue
        try:
            comm = (entry / "comm").read_text().strip()
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:  # gone meanwhile
            continue
        if comm in COMPONENTS:
            name = COMPONENTS[comm]
            by[name] = by.get(name, 0.0) + (int(fields[11]) + int(fields[12])) / tick
    cpu = [int(x) for x in (proc / "stat").read_text().splitlines()[0].split()[1:]]
    idle = cpu[3] + cpu[4]  # idle + iowait
    return CpuSnapshot(by, (sum(cpu[:8]) - idle) / tick, sum(cpu[:8]) / tick)


def cpu_between(before: CpuSnapshot, after: CpuSnapshot, operator_s: float) -> dict[str, Any]:
    """CPU seconds each component used between two snapshots, the operator's given, and how busy the
    machine was (1.0: every core busy the whole time)."""
    used = {k: round(v - before.by_component.get(k, 0.0), 1) for k, v in sorted(after.by_component.items())}
    used["operator"] = round(operator_s, 1)
    span = after.total - before.total
    return {"cpu_s": used, "machine_busy": round((after.busy - before.busy) / span, 3) if span > 0 else None}


def _time(value: str | None) -> float | None:
    return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp() if value else None


def _condition(pod: dict[str, Any], kind: str) -> float | None:
    for c in (pod.get("status") or {}).get("conditions") or []:
        if c.get("type") == kind and c.get("status") == "True":
            return _time(c.get("lastTransitionTime"))
    return None


def stages(
    pods: Iterable[dict[str, Any]], origin_wall: float, lost_zone: str | None, zone_label: str
) -> dict[str, Any]:
    """Offsets from `origin_wall` (the zone's loss, or the first create; wall clock, s) of the pods made
    since, outside the lost zone if one is given: created, scheduled, Ready; and how many were made in
    the lost zone meanwhile (replacements that cannot run)."""
    created: list[float] = []
    scheduled: list[float] = []
    ready: list[float] = []
    in_lost = 0
    for pod in pods:
        meta = pod.get("metadata") or {}
        born = _time(meta.get("creationTimestamp"))
        # Condition times have 1 s resolution: a pod made in the lost second counts as new.
        if born is None or born < origin_wall - 1:
            continue
        if lost_zone is not None and (meta.get("labels") or {}).get(zone_label) == lost_zone:
            in_lost += 1
            continue
        created.append(born - origin_wall)
        if (at := _condition(pod, "PodScheduled")) is not None:
            scheduled.append(at - origin_wall)
        if (at := _condition(pod, "Ready")) is not None:
            ready.append(at - origin_wall)
    return {
        "new_pods": len(created),
        "made_in_lost_zone": in_lost,
        "created": _spread(created),
        "scheduled": _spread(scheduled),
        "ready": _spread(ready),
    }


def ready_in(pods: Iterable[dict[str, Any]], origin_wall: float, zone: str, zone_label: str) -> dict[str, Any]:
    """Offsets from `origin_wall` (a zone's return) at which that zone's pods turned Ready: a
    failback waits on them, so its time splits between the cluster bringing the zone's pods up and
    whoever then writes the moves back. With `scheduled`: when those of them bound since were bound
    (the scheduler's share, apart from KWOK's)."""
    ready, scheduled = [], []
    for pod in pods:
        if ((pod.get("metadata") or {}).get("labels") or {}).get(zone_label) != zone:
            continue
        if (at := _condition(pod, "Ready")) is not None and at >= origin_wall - 1:
            ready.append(at - origin_wall)
            if (bound := _condition(pod, "PodScheduled")) is not None and bound >= origin_wall - 1:
                scheduled.append(bound - origin_wall)
    return {**_spread(ready), "scheduled": _spread(scheduled)}


def made(objects: Iterable[dict[str, Any]], origin_wall: float) -> dict[str, float | int | None]:
    """Offsets from `origin_wall` (wall clock, s) at which the objects were created: when the
    Deployments existed, against when their pods did, splits a slow creation between whoever
    wrote the Deployments and the controllers that made their pods."""
    born = (_time((o.get("metadata") or {}).get("creationTimestamp")) for o in objects)
    return _spread([b - origin_wall for b in born if b is not None and b >= origin_wall - 1])


def _spread(values: list[float]) -> dict[str, float | int | None]:
    if not values:
        return {"n": 0, "p50_s": None, "max_s": None}
    return {"n": len(values), "p50_s": round(statistics.median(values), 1), "max_s": round(max(values), 1)}
