"""Where the operator's memory goes: with SPOFLESS_TRACEMALLOC=FILE, tracemalloc traces every
allocation, and on exit (or SIGUSR1) FILE gets the peak and the top allocating lines and files.
Tracing costs CPU and memory of its own, so a profiled run is not a timed one."""

from __future__ import annotations

import atexit
import signal
import tracemalloc
from pathlib import Path

TOP = 30


def start(path: str) -> None:
    tracemalloc.start()
    atexit.register(write, path)
    signal.signal(signal.SIGUSR1, lambda _n, _f: write(path))


def write(path: str) -> None:
    current, peak = tracemalloc.get_traced_memory()
    snapshot = tracemalloc.take_snapshot().filter_traces([tracemalloc.Filter(False, tracemalloc.__file__)])
    lines = [f"traced now {current / 2**20:.1f} MiB, peak {peak / 2**20:.1f} MiB", "", "by file:"]
    lines += [str(s) for s in snapshot.statistics("filename")[:TOP]]
    lines += ["", "by line:"]
    lines += [str(s) for s in snapshot.statistics("lineno")[:TOP]]
    Path(path).write_text("\n".join(lines) + "\n")
