"""The Kubernetes event a decision asks the shell to post on the site: one shape for every part of
the core (failover, capacity, rollouts)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal


@dataclass(frozen=True)
class Event:
    type: Literal["Normal", "Warning"]
    reason: str
    message: str
