"""The blast bench's look at the cluster's pipeline: which pods count, and their stage times."""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from bench import pipeline

ORIGIN = datetime(2026, 12, 5, 12, 0, 0, tzinfo=UTC)


def _at(seconds: float) -> str:
    return (ORIGIN + timedelta(seconds=seconds)).strftime("%Y-%m-%dT%H:%M:%SZ")


def _pod(zone: str, born: float, scheduled: float | None = None, ready: float | None = None) -> dict[str, Any]:
    conditions = []
    if scheduled is not None:
        conditions.append({"type": "PodScheduled", "status": "True", "lastTransitionTime": _at(scheduled)})
    ready_now = "True" if ready is not None else "False"
    conditions.append(
        {"type": "Ready", "status": ready_now, "lastTransitionTime": _at(ready if ready is not None else 0)}
    )
    return {
        "metadata": {"creationTimestamp": _at(born), "labels": {"spofless.dev/zone": zone}},
        "status": {"conditions": conditions},
    }


def test_stages_count_new_pods_outside_the_lost_zone_only() -> None:
    pods = [
        _pod("zone-a", -60, -59, -58),  # from before the loss: not counted
        _pod("zone-a", 10, 20, 30),
        _pod("zone-c", 12, 40, 100),
        _pod("zone-c", 14, 50),  # scheduled, never Ready
        _pod("zone-b", 11),  # a replacement in the lost zone
    ]
    out = pipeline.stages(pods, ORIGIN.timestamp(), "zone-b", "spofless.dev/zone")
    assert out["new_pods"] == 3
    assert out["made_in_lost_zone"] == 1
    assert out["created"] == {"n": 3, "p50_s": 12.0, "max_s": 14.0}
    assert out["scheduled"] == {"n": 3, "p50_s": 40.0, "max_s": 50.0}
    assert out["ready"] == {"n": 2, "p50_s": 65.0, "max_s": 100.0}


def test_stages_with_no_new_pod_say_none() -> None:
    out = pipeline.stages([_pod("zone-a", -10, -9, -8)], ORIGIN.timestamp(), "zone-b", "spofless.dev/zone")
    assert out["new_pods"] == 0 and out["ready"] == {"n": 0, "p50_s": None, "max_s": None}


def test_made_spreads_the_creation_times_since_the_origin() -> None:
    objects = [{"metadata": {"creationTimestamp": _at(t)}} for t in (-30, 4, 8, 20)] + [{"metadata": {}}]
    assert pipeline.made(objects, ORIGIN.timestamp()) == {"n": 3, "p50_s": 8.0, "max_s": 20.0}


def test_cpu_between_two_snapshots(tmp_path: Path) -> None:
    def proc(apiserver_ticks: int, busy: int, idle: int) -> pipeline.CpuSnapshot:
        (tmp_path / "stat").write_text(f"cpu  {busy} 0 0 {idle} 0 0 0 0 0 0\ncpu0 0 0 0 0\n")
        pid = tmp_path / "42"
        pid.mkdir(exist_ok=True)
        (pid / "comm").write_text("kube-apiserver\n")
        fields = ["S"] + ["0"] * 10 + [str(apiserver_ticks), "0"] + ["0"] * 30
        (pid / "stat").write_text(f"42 (kube-apiserver) {' '.join(fields)}\n")
        return pipeline.cpu_snapshot(tmp_path)

    tick = os.sysconf("SC_CLK_TCK")
    before = proc(0, 0, 0)
    after = proc(3 * tick, 3 * tick, 1 * tick)
    out = pipeline.cpu_between(before, after, operator_s=1.25)
    assert out["cpu_s"] == {"kube-apiserver": 3.0, "operator": 1.2}
    assert out["machine_busy"] == 0.75


def test_cpu_snapshot_reads_this_machine() -> None:
    snap = pipeline.cpu_snapshot()
    assert snap.total > 0 and 0 <= snap.busy <= snap.total


def test_the_returning_zones_pods_ready_again_count_from_its_return() -> None:
    pods = [
        _pod("zone-b", -120, -119, 30),  # made during the outage, Ready once the zone returned
        _pod("zone-b", -300, -299, 10),
        _pod("zone-b", -300, -299, -200),  # Ready before the zone returned: not part of the failback
        _pod("zone-b", -120, -119),  # not Ready yet
        _pod("zone-a", -300, -299, 20),  # another zone
        _pod("zone-b", -120, 4, 6),  # pending through the outage, bound once the zone returned
    ]
    origin = ORIGIN.timestamp()
    assert pipeline.ready_in(pods, origin, "zone-b", "spofless.dev/zone") == {
        "n": 3, "p50_s": 10.0, "max_s": 30.0, "scheduled": {"n": 1, "p50_s": 4.0, "max_s": 4.0},
    }  # fmt: skip
