"""The operator's CPU profile and work queue over a bench (`hack/bench.sh --profile`).

py-spy (from PyPI) samples the operator's stacks 20 times a second without pausing it
(--nonblocking) and writes them folded: one stack per line, with how many samples had it. Idle
stacks (the event loop waiting) are not sampled, so shares are of the operator's busy time.
`summary` says which functions the samples were in (inclusive: a function and what it called) and
which packages ran them (self: the innermost frame). The queue's depth per lane and the time sites
waited in it come from the operator's /metrics (`QueueWatch`, `waits`), in every run.
"""

from __future__ import annotations

import asyncio
import shutil
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

RATE = 20  # samples a second: enough for shares over minutes, light on a 2-core machine
ENTRY = ("(spofless/__main__.py)", "(spofless/cli.py)")  # under every sample: says nothing
WAITED = "spofless_queue_wait_seconds_bucket"  # the operator's histogram of sites' time in the queue


def record(pid: int, out: Path) -> subprocess.Popen[bytes]:
    """py-spy attached to `pid` until that process exits; it then writes `out`."""
    spy = shutil.which("py-spy", path=str(Path(sys.executable).parent)) or shutil.which("py-spy")
    if spy is None:
        raise SystemExit("--profile needs py-spy: .venv/bin/pip install py-spy (hack/bench.sh --profile does)")
    cmd = [spy, "record", "--pid", str(pid), "--rate", str(RATE), "--nonblocking", "--nolineno",
           "--format", "raw", "--output", str(out)]  # fmt: skip
    out.parent.mkdir(parents=True, exist_ok=True)  # the results' directory is made only at the end
    with out.with_suffix(".log").open("wb") as log:  # what py-spy says, if it writes nothing
        return subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT)


def stacks(path: Path) -> Counter[tuple[str, ...]]:
    """The folded file's stacks, each frame as `function (file)`, with their sample counts."""
    out: Counter[tuple[str, ...]] = Counter()
    for line in path.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if stack and count.isdigit():
            out[tuple(stack.split(";"))] += int(count)
    return out


def summary(path: Path, top: int = 15) -> str:
    """Where the samples were: the operator's own functions (inclusive), then packages (self)."""
    folded = stacks(path)
    total = sum(folded.values())
    if not total:
        return f"profile {path}: no sample"
    inclusive: Counter[str] = Counter()
    packages: Counter[str] = Counter()
    for stack, count in folded.items():
        for frame in set(stack):
            if "spofless" in frame and not frame.endswith(ENTRY):
                inclusive[frame] += count
        packages[_package(stack[-1])] += count
    lines = [
        f"profile {path}: {total} samples at {RATE} Hz ({total / RATE:.0f} s busy)",
        "  spofless functions, inclusive:",
    ]
    lines += [f"    {n / total:6.1%}  {frame}" for frame, n in inclusive.most_common(top)]
    lines.append("  by package, self:")
    lines += [f"    {n / total:6.1%}  {name}" for name, n in packages.most_common(8)]
    return "\n".join(lines)


def _package(frame: str) -> str:
    """`dumps (json/encoder.py)` -> `json`; a frame of the interpreter itself stays as it is."""
    _, _, where = frame.rpartition(" (")
    return where.rstrip(")").split("/")[0].removesuffix(".py") or frame


class QueueWatch:
    """The work queue's depth per lane, scraped every second while a phase runs."""

    def __init__(self, by_label: Callable[[str], dict[str, float]]) -> None:
        self.by_label = by_label
        self.samples: list[tuple[float, dict[str, float]]] = []
        self.task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self.samples.clear()
        self.task = asyncio.create_task(self._scrape())

    async def _scrape(self) -> None:
        while True:
            try:
                depth = await asyncio.to_thread(self.by_label, "spofless_queue_depth")
                self.samples.append((time.monotonic(), depth))
            except OSError:  # a busy operator answered late: the next scrape will do
                pass
            await asyncio.sleep(1.0)

    async def stop(self, origin: float) -> dict[str, Any]:
        """Per lane: the deepest the queue got, when (seconds after `origin`), and when it was last
        not empty."""
        if self.task is not None:
            self.task.cancel()
            await asyncio.gather(self.task, return_exceptions=True)
        out: dict[str, Any] = {}
        for lane in sorted({lane for _, depth in self.samples for lane in depth}):
            series = [(t - origin, depth.get(lane, 0.0)) for t, depth in self.samples]
            peak_t, peak = max(series, key=lambda s: s[1])
            busy = [t for t, d in series if d > 0]
            out[lane] = {"peak": int(peak), "peak_at_s": round(peak_t, 1),
                         "last_waiting_s": round(busy[-1], 1) if busy else None}  # fmt: skip
        return out


def waits(before: dict[str, float], after: dict[str, float]) -> dict[str, Any]:
    """The queue-wait histogram between two scrapes (`le` bucket -> cumulative count): how many
    passes waited, and the bucket bounds their p50 and p99 fall under."""
    delta = {float(le): after.get(le, 0.0) - before.get(le, 0.0) for le in after}
    bounds = sorted(delta)
    total = delta[bounds[-1]] if bounds else 0.0
    if not total:
        return {"passes": 0}

    def under(q: float) -> float:
        return next(b for b in bounds if delta[b] >= q * total)

    return {"passes": int(total), "p50_under_s": under(0.5), "p99_under_s": under(0.99)}
