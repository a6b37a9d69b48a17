"""Plots of a benchmark's results (PNG, matplotlib's headless Agg backend): spofless against the
floor measured in the same run.

- Blast radius (bench/blast.py): ready pods in the zones left through zone-b's outage, operator and
  floor; and how many sites report the loss.
- Creation (bench/run.py, the scale step): pods ready behind their Service from the first create,
  operator and floor; and how many sites are Redundant (the floor: Services with every pod ready).

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

from matplotlib.figure import Figure

OPERATOR = "#1565c0"
FLOOR = "#ef6c00"
TARGET = "#2e7d32"


Curve = tuple[list[float], list[float], str, str]  # seconds, values, colour, label


def _percent(series: dict[str, list[float]], key: str, whole: float) -> list[float]:
    return [100 * v / whole for v in series[key]]


def _figure(title: str, xlabel: str, sites: int, capacity: list[Curve], done: tuple[str, list[Curve]]) -> Figure:
    """Two panels over one time axis: ready capacity (% of every site's replicas) above, a count of
    sites below; each with its full mark dashed."""
    figure = Figure(figsize=(9, 6), dpi=100, layout="constrained")
    upper, lower = figure.subplots(2, 1, sharex=True, height_ratios=[3, 2])
    panels = [(upper, "ready pods\n(% of every site's replicas)", capacity, 100.0, "every site's replicas"),
              (lower, done[0], done[1], float(sites), "every site")]  # fmt: skip
    for ax, ylabel, curves, full, mark in panels:
        ax.grid(True, color="#e0e0e0")
        for x, y, colour, label in curves:
            ax.plot(x, y, color=colour, label=label)
        ax.axhline(full, color=TARGET, linestyle="--", linewidth=1, label=mark)
        ax.set_ylabel(ylabel)
        ax.set_ylim(0, full * 1.1)
        ax.legend(loc="lower right")
    upper.set_title(title)
    lower.set_xlabel(xlabel)
    return figure


def blast_figure(blast: dict[str, Any]) -> Figure | None:
    """Ready capacity in the zones left and sites reporting the loss through the outage; None without series."""
    op, floor = blast.get("operator", {}).get("series"), blast.get("floor", {}).get("series")
    if not op:
        return None
    sites, replicas = blast["sites"], blast.get("replicas", 3)
    capacity = [(op["t_s"], _percent(op, "ready_left", sites * replicas), OPERATOR, "spofless: in the zones left")]
    if floor:
        capacity.append((floor["t_s"], _percent(floor, "ready_left", sites * replicas), FLOOR,
                         "floor: bare client, same scale changes"))  # fmt: skip
    reporting = [(op["t_s"], op["reporting"], OPERATOR, "spofless")]
    return _figure(f"Blast radius: zone-b lost under {sites} sites x {replicas} replicas",
                   "seconds since the last zone-b node was seen NotReady", sites, capacity,
                   ("sites reporting\nthe loss", reporting))  # fmt: skip


def creation_figure(scale: dict[str, Any]) -> Figure | None:
    """Ready capacity and sites done from the first create, operator and floor; None without series."""
    op, floor = scale.get("series"), scale.get("floor_series")
    if not op:
        return None
    sites, replicas = scale["sites"], scale.get("replicas", 3)
    capacity = [(op["t_s"], _percent(op, "ready", sites * replicas), OPERATOR, "spofless")]
    done = [(op["t_s"], op["sites"], OPERATOR, "spofless: sites Redundant")]
    if floor:
        capacity.append((floor["t_s"], _percent(floor, "ready", sites * replicas), FLOOR,
                         "floor: bare client, same children"))  # fmt: skip
        done.append((floor["t_s"], floor["sites"], FLOOR, "floor: Services with every pod ready"))
    return _figure(f"Creation: {sites} sites x {replicas} replicas created at once", "seconds since the first create",
                   sites, capacity, ("sites done", done))  # fmt: skip


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
            path.parent.mkdir(parents=True, exist_ok=True)
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
