"""The bench's reading of a py-spy profile and of the operator's queue-wait histogram."""

from __future__ import annotations

from pathlib import Path

from bench import profile

FOLDED = """\
<module> (spofless/__main__.py);run (spofless/operator/engine.py);decide (spofless/core/site/decision.py);dumps (json/encoder.py) 6
<module> (spofless/__main__.py);run (spofless/operator/engine.py);_send (aiohttp/client.py) 3
<module> (spofless/__main__.py);select (selectors.py) 1
garbage line
"""


def test_summary_shares_inclusive_and_by_package(tmp_path: Path) -> None:
    path = tmp_path / "op.folded"
    path.write_text(FOLDED)
    text = profile.summary(path)
    assert "10 samples" in text
    # run holds 9 samples of 10, decide 6; json ran 6 of them itself. The entry point, under every
    # sample, is left out.
    assert "__main__" not in text
    assert "  90.0%  run (spofless/operator/engine.py)" in text
    assert "  60.0%  decide (spofless/core/site/decision.py)" in text
    assert "  60.0%  json" in text and "  30.0%  aiohttp" in text and "  10.0%  selectors" in text
    assert "dumps" not in text.split("by package")[0]  # not the operator's own: not in its list


def test_summary_of_an_empty_profile(tmp_path: Path) -> None:
    path = tmp_path / "none.folded"
    path.write_text("")
    assert "no sample" in profile.summary(path)


def test_waits_reads_the_histogram_between_two_scrapes() -> None:
    before = {"0.1": 10.0, "1.0": 10.0, "10.0": 10.0, "+Inf": 10.0}
    after = {"0.1": 60.0, "1.0": 100.0, "10.0": 109.0, "+Inf": 110.0}  # 100 passes: 50 under 0.1 s, 99 under 10 s
    assert profile.waits(before, after) == {"passes": 100, "p50_under_s": 0.1, "p99_under_s": 10.0}
    assert profile.waits(after, after) == {"passes": 0}
