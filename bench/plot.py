"""Plots of a benchmark's results (PNG, matplotlib's headless Agg backend): spofless against the
floor measured in the same run.

- Blast radius (bench/blast.py): ready pods in the zones left through zone-b's outage, operator and
  floor; and how many sites report the loss.
- Creation (bench/run.py, the scale step): ready pods from the first create, operator and floor;
  and how many sites are Redundant (the floor: sites with every pod ready).

`python -m bench.plot RESULTS.json [--prefix docs/img/bench]` redraws them from a results file
(bench/run.py draws them beside it) as PREFIX-blast.png and PREFIX-creation.png; the README shows
docs/img/bench-*.png. A results file from before the series
were recorded has nothing to draw, and says so.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from matplotlib.axes import Axes
from matplotlib.figure import Figure

OPERATOR = "#1565c0"
FLOOR = "#ef6c00"
TARGET = "#2e7d32"


def _percent(series: dict[str, list[float]], key: str, whole: float) -> list[float]:
    return [100 * v / whole for v in series[key]]


def _axes(figure: Figure) -> tuple[Axes, Axes]:
    top, bottom = figure.subplots(2, 1, sharex=True, height_ratios=[3, 2])
    for ax in (top, bottom):
        ax.grid(True, color="#e0e0e0")
    return top, bottom


def blast_figure(blast: dict[str, Any]) -> Figure | None:
    """Ready capacity and sites reporting the loss through the outage; None without series."""
    op, floor = blast.get("operator", {}).get("series"), blast.get("floor", {}).get("series")
    if not op:
        return None
    sites, whole = blast["sites"], blast["sites"] * blast.get("replicas", 3)
    figure = Figure(figsize=(9, 6), dpi=100, layout="constrained")
    top, bottom = _axes(figure)
    top.plot(op["t_s"], _percent(op, "ready_left", whole), color=OPERATOR, label="spofless")
    if floor:
        top.plot(
            floor["t_s"],
            _percent(floor, "ready_left", whole),
            color=FLOOR,
            label="floor: bare client, same scale changes",
        )
    top.axhline(100, color=TARGET, linestyle="--", linewidth=1, label="every site's replicas")
    top.set_ylabel("ready pods in the zones left\n(% of every site's replicas)")
    top.set_ylim(0, 110)
    top.legend(loc="lower right")
    top.set_title(f"Blast radius: zone-b lost under {sites} sites x {blast.get('replicas', 3)} replicas")
    bottom.plot(op["t_s"], op["reporting"], color=OPERATOR, label="spofless")
    bottom.axhline(sites, color=TARGET, linestyle="--", linewidth=1)
    bottom.set_ylabel("sites reporting\nthe loss")
    bottom.set_ylim(0, sites * 1.1)
    bottom.set_xlabel("seconds since the last zone-b node was seen NotReady")
    return figure


def creation_figure(scale: dict[str, Any]) -> Figure | None:
    """Ready capacity and sites done from the first create, operator and floor; None without series."""
    op, floor = scale.get("series"), scale.get("floor_series")
    if not op:
        return None
    sites, whole = scale["sites"], scale["sites"] * scale.get("replicas", 3)
    figure = Figure(figsize=(9, 6), dpi=100, layout="constrained")
    top, bottom = _axes(figure)
    top.plot(op["t_s"], _percent(op, "ready", whole), color=OPERATOR, label="spofless")
    bottom.plot(op["t_s"], op["sites"], color=OPERATOR, label="spofless: sites Redundant")
    if floor:
        top.plot(floor["t_s"], _percent(floor, "ready", whole), color=FLOOR, label="floor: bare client, same children")
        bottom.plot(floor["t_s"], floor["sites"], color=FLOOR, label="floor: sites with every pod ready")
    top.axhline(100, color=TARGET, linestyle="--", linewidth=1, label="every site's replicas")
    top.set_ylabel("ready pods\n(% of every site's replicas)")
    top.set_ylim(0, 110)
    top.legend(loc="lower right")
    top.set_title(f"Creation: {sites} sites x {scale.get('replicas', 3)} replicas created at once")
    bottom.axhline(sites, color=TARGET, linestyle="--", linewidth=1)
    bottom.set_ylabel("sites done")
    bottom.set_ylim(0, sites * 1.1)
    bottom.legend(loc="lower right")
    bottom.set_xlabel("seconds since the first create")
    return figure


def write(results: dict[str, Any], prefix: Path) -> list[Path]:
    """Draws what the results hold into PREFIX-blast.png and PREFIX-creation.png; returns the files."""
    figures = {
        "blast": blast_figure(results["blast"]) if "blast" in results else None,
        "creation": creation_figure(results["scale"]) if "scale" in results else None,
    }
    out = []
    for name, figure in figures.items():
        if figure is not None:
            path = prefix.parent / f"{prefix.name}-{name}.png"
            figure.savefig(path)
            out.append(path)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("results", type=Path, help="a results file of bench/run.py")
    parser.add_argument("--prefix", type=Path, help="PNGs go to PREFIX-blast.png, PREFIX-creation.png "
                        "(default: beside the results, named after them)")  # fmt: skip
    args = parser.parse_args()
    written = write(json.loads(args.results.read_text()), args.prefix or args.results.with_suffix(""))
    if not written:
        raise SystemExit(f"{args.results}: no series to draw (recorded by bench/run.py since plots were added)")
    for path in written:
        print(path)


if __name__ == "__main__":
    main()
