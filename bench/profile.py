"""The operator's CPU profile and work queue over a bench (`hack/bench.sh --profile`).

py-spy (from PyPI) samples the operator's stacks 20 times a second without pausing it
(--nonblocking) and writes them folded: one stack per line, with how many samples had it. Without
pausing, py-spy also samples the event loop waiting in select; `summary` leaves those out, so its
shares are of the operator's busy time. It says which part of the operator ran the samples, which
of its functions they were in (inclusive: a function and what it called), and which packages ran
them (self: the innermost frame). The queue's depth per lane and the time sites
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
WAITING = ".select (selectors.py)"  # the loop waiting for I/O: idle, though --nonblocking samples it
LOOP_CALLBACK = "Handle._run (asyncio/events.py)"  # what the event loop runs, one callback at a time
PARTS = (  # by the frame under the loop's callback
    ("passes", ("Engine._work (spofless/",)),
    ("kopf's watches: sites, nodes, children, dependencies", ("worker (kopf/", "guard (kopf/")),
    ("own watches: pods, EndpointSlices, node leases", ("Reflector.", "NodeLeases.")),
    ("writes sent apart from a pass", ("Reconciler._write (spofless/",)),
    ("events sent", ("EventSender.",)),
)
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
    """Where the samples were: by part of the operator, its own functions (inclusive), then the
    packages that ran them (self). The event loop waiting in select is left out: idle."""
    folded = stacks(path)
    waiting = sum(n for stack, n in folded.items() if stack[-1].endswith(WAITING))
    busy = Counter({stack: n for stack, n in folded.items() if not stack[-1].endswith(WAITING)})
    total = sum(busy.values())
    if not total:
        return f"profile {path}: no sample"
    parts: Counter[str] = Counter()
    inclusive: Counter[str] = Counter()
    packages: Counter[str] = Counter()
    for stack, count in busy.items():
        parts[part(stack)] += count
        for frame in set(stack):
            if "spofless" in frame and not frame.endswith(ENTRY):
                inclusive[frame] += count
        packages[_package(stack[-1])] += count
    lines = [f"profile {path}: {total} samples at {RATE} Hz ({total / RATE:.0f} s), and {waiting} waiting in select"]
    for title, counts, n in (("by part", parts, None), ("spofless functions, inclusive", inclusive, top),
                             ("by package, self", packages, 8)):  # fmt: skip
        lines.append(f"  {title}:")
        lines += [f"    {c / total:6.1%}  {name}" for name, c in counts.most_common(n)]
    return "\n".join(lines)


def part(stack: tuple[str, ...]) -> str:
    """The part of the operator a sample was in: what the event loop's callback ran, or a thread."""
    for i, frame in enumerate(stack[:-1]):
        if frame.startswith(LOOP_CALLBACK):
            under = stack[i + 1]
            return next((name for name, prefixes in PARTS if under.startswith(prefixes)), "other callbacks: sockets")
    return "other threads: the metrics server" if stack[0].startswith("Thread._bootstrap") else "the event loop itself"


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
