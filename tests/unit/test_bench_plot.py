"""The benchmarks' plots (bench/plot.py) and what they are drawn from (bench/timeline.py), on a
synthetic results file: no benchmark runs here."""

import json
import subprocess
import sys
from collections import Counter
from pathlib import Path
from typing import Any

from bench import plot
from bench.timeline import Timeline
from PIL import Image

ROOT = Path(__file__).resolve().parents[2]


def hex_rgb(colour: str) -> tuple[int, ...]:
    return tuple(int(colour[i : i + 2], 16) for i in (1, 3, 5))


def ramp(start: float, end: float, low: float, high: float, steps: int = 40) -> dict[str, list[float]]:
    t = [start + (end - start) * i / (steps - 1) for i in range(steps)]
    return {"t_s": t, "v": [low + (high - low) * i / (steps - 1) for i in range(steps)]}


def results() -> dict[str, Any]:
    """A results file as bench/run.py writes it, with made-up series: 100 sites of 3 replicas."""
    op, floor = ramp(-2, 60, 200, 300), ramp(-2, 20, 200, 300)
    created, floor_created = ramp(0, 50, 0, 300), ramp(0, 30, 0, 300)
    return {
        "blast": {
            "sites": 100, "replicas": 3, "failback_window_s": 10,
            "operator": {"series": {"t_s": op["t_s"], "ready_left": op["v"], "reporting": [min(100, 5 * i) for i in range(40)]}},
            "floor": {"series": {"t_s": floor["t_s"], "ready_left": floor["v"]}},
        },
        "scale": {
            "sites": 100, "replicas": 3, "floor_s": 31.0, "all_redundant_after_first_create_s": 51.0,
            "series": {"t_s": created["t_s"], "ready": created["v"], "sites": [v / 3 for v in created["v"]]},
            "floor_series": {"t_s": floor_created["t_s"], "ready": floor_created["v"],
                             "sites": [v / 3 for v in floor_created["v"]]},
        },
    }  # fmt: skip


def colours(path: Path) -> Counter[tuple[int, ...]]:
    image = Image.open(path).convert("RGB")
    assert image.size == (900, 600)
    return Counter({c: n for n, c in image.getcolors(900 * 600) or [] if isinstance(c, tuple)})


def test_both_plots_are_drawn_with_spofless_and_the_floor(tmp_path: Path) -> None:
    written = plot.write(results(), tmp_path / "bench")
    assert [p.name for p in written] == ["bench-blast.png", "bench-creation.png"]
    for path in written:
        seen = colours(path)
        assert seen[hex_rgb(plot.OPERATOR)] > 200, f"{path.name}: the operator's curve is drawn"
        assert seen[hex_rgb(plot.FLOOR)] > 200, f"{path.name}: the floor's curve is drawn"


def test_the_prefix_directory_is_made_when_missing(tmp_path: Path) -> None:
    written = plot.write(results(), tmp_path / "new" / "dir" / "bench")
    assert all(p.exists() for p in written) and len(written) == 2


def test_a_run_without_a_floor_still_plots_the_operator(tmp_path: Path) -> None:
    data = results()
    del data["blast"]["floor"]["series"], data["scale"]["floor_series"]
    written = plot.write(data, tmp_path / "bench")
    assert len(written) == 2
    assert all(colours(p)[hex_rgb(plot.FLOOR)] == 0 for p in written)


def test_an_older_results_file_has_nothing_to_draw_and_says_so(tmp_path: Path) -> None:
    old = {"scale": {"sites": 300, "floor_s": 10.0}, "blast": {"sites": 300, "operator": {}, "floor": {}}}
    source = tmp_path / "old.json"
    source.write_text(json.dumps(old))
    assert plot.write(old, tmp_path / "old") == []
    done = subprocess.run([sys.executable, "-m", "bench.plot", str(source)], cwd=ROOT, capture_output=True, text=True)
    assert done.returncode == 1 and "no series to draw" in done.stderr


def test_the_command_writes_where_the_readme_looks(tmp_path: Path) -> None:
    source = tmp_path / "bench-20261205-000000.json"
    source.write_text(json.dumps(results()))
    prefix = tmp_path / "img" / "bench"
    prefix.parent.mkdir()
    done = subprocess.run([sys.executable, "-m", "bench.plot", str(source), "--prefix", str(prefix)], cwd=ROOT,
                          capture_output=True, text=True)  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert sorted(p.name for p in prefix.parent.iterdir()) == ["bench-blast.png", "bench-creation.png"]


def test_a_timeline_is_timed_from_its_origin_within_its_window() -> None:
    timeline = Timeline()
    for at, ready in [(9.0, 1), (10.0, 2), (12.5, 3), (20.0, 4)]:
        timeline.add(at=at, ready=ready, sites=ready * 10)
    assert timeline.since(10.0, start=9.5, end=15) == {"t_s": [0.0, 2.5], "ready": [2, 3], "sites": [20, 30]}
    assert timeline.since(10.0)["t_s"] == [-1.0, 0.0, 2.5, 10.0]
    assert Timeline().since(0.0) == {"t_s": []}
