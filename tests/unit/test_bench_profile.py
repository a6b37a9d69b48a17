"""The bench's reading of a py-spy profile and of the operator's queue-wait histogram."""

from __future__ import annotations

import re
from pathlib import Path

from bench import profile

LOOP = "<module> (spofless/__main__.py);run_forever (asyncio/base_events.py);Handle._run (asyncio/events.py)"
FOLDED = f"""\
{LOOP};Engine._work (spofless/operator/engine.py);decide (spofless/core/site/decision.py);dumps (json/encoder.py) 6
{LOOP};worker (kopf/_core/reactor/queueing.py);_send (aiohttp/client.py) 3
<module> (spofless/__main__.py);run_forever (asyncio/base_events.py);EpollSelector.select (selectors.py) 1
Thread._bootstrap (threading.py);generate_latest (prometheus_client/exposition.py) 1
garbage line
"""


def test_summary_by_part_function_and_package(tmp_path: Path) -> None:
    path = tmp_path / "op.folded"
    path.write_text(FOLDED)
    text = profile.summary(path)
    assert "10 samples at 20 Hz (0 s), and 1 waiting in select" in text  # the wait is idle: left out
    by_part, functions, packages = (_section(text, t) for t in ("by part", "spofless functions", "by package"))
    assert "  60.0%  passes" in by_part
    assert "  30.0%  kopf's watches" in by_part
    assert "  10.0%  other threads: the metrics server" in by_part
    assert "  60.0%  decide (spofless/core/site/decision.py)" in functions
    assert "__main__" not in functions and "dumps" not in functions  # the entry point; not spofless' own
    assert "  60.0%  json" in packages and "  30.0%  aiohttp" in packages and "selectors" not in packages


def _section(text: str, title: str) -> str:
    """The lines of the summary under one title."""
    return next(section for section in re.split(r"\n  (?=\S)", text) if section.startswith(title))


def test_part_of_a_sample_outside_any_callback_is_the_loop() -> None:
    assert profile.part(("<module> (spofless/__main__.py)", "_run_once (asyncio/base_events.py)")) == (
        "the event loop itself"
    )


def test_summary_of_an_empty_profile(tmp_path: Path) -> None:
    path = tmp_path / "none.folded"
    path.write_text("")
    assert "no sample" in profile.summary(path)


def test_waits_reads_the_histogram_between_two_scrapes() -> None:
    before = {"0.1": 10.0, "1.0": 10.0, "10.0": 10.0, "+Inf": 10.0}
    after = {"0.1": 60.0, "1.0": 100.0, "10.0": 109.0, "+Inf": 110.0}  # 100 passes: 50 under 0.1 s, 99 under 10 s
    assert profile.waits(before, after) == {"passes": 100, "p50_under_s": 0.1, "p99_under_s": 10.0}
    assert profile.waits(after, after) == {"passes": 0}
