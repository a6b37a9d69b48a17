"""Values sampled over a benchmark's run, for its plots (bench/plot.py): seconds from an origin and
one list per value. Kept in the results JSON as {"t_s": [...], "<value>": [...]}."""

from __future__ import annotations

import time
from dataclasses import dataclass, field


@dataclass
class Timeline:
    samples: list[tuple[float, dict[str, float]]] = field(default_factory=list)  # (monotonic time, values)

    def add(self, at: float | None = None, **values: float) -> None:
        self.samples.append((time.monotonic() if at is None else at, values))

    def since(self, origin: float, start: float = float("-inf"), end: float = float("inf")) -> dict[str, list[float]]:
        """The samples taken between `start` and `end`, timed from `origin` (earlier ones negative)."""
        chosen = [(t, v) for t, v in self.samples if start <= t <= end]
        out: dict[str, list[float]] = {"t_s": [round(t - origin, 2) for t, _ in chosen]}
        for name in chosen[0][1] if chosen else {}:
            out[name] = [v[name] for _, v in chosen]
        return out
