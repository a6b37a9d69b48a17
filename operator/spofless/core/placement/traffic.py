"""Zone-local traffic, only while it is safe: spec.service.trafficDistribution is set on the Service
while every zone is in service and holds its even share of ready pods, and lifted otherwise, so one
zone's clients never all land on the few pods a zone has left."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from spofless.core.model.status import CAUSE_WORDS, Cause
from spofless.core.placement.split import Placement


@dataclass(frozen=True)
class Traffic:
    value: str | None  # what to set on the Service: the requested mode, or None (lifted, or not asked for)
    reason: str  # Balanced | ZoneLost | ZoneFull | Evacuated | Recovering | ShortOfReadyPods
    message: str


def mode(
    requested: str | None,
    causes: Mapping[str, Cause],
    recovering: Sequence[str],
    plan: Placement,
    ready: Mapping[str, int],
) -> Traffic | None:
    """None when not asked for; else the mode in force and why. recovering: zones inside the failback window."""
    base, desired = plan.base, plan.desired
    if requested is None:
        return None
    if causes:
        zone, cause = sorted(causes.items())[0]
        return Traffic(None, cause, f"{requested} lifted while zone {zone} is {CAUSE_WORDS[cause]}")
    if recovering:
        return Traffic(None, "Recovering", f"{requested} lifted until zone {sorted(recovering)[0]} has failed back")
    short = sorted(z for z in base if ready.get(z, 0) < base[z] or desired.get(z, 0) != base[z])
    if short:
        zone = short[0]
        return Traffic(
            None,
            "ShortOfReadyPods",
            f"{requested} lifted while zone {zone} has {ready.get(zone, 0)} of its {base[zone]} ready replicas",
        )
    return Traffic(requested, "Balanced", f"{requested} set on the Service: every zone holds its share of ready pods")


def to_lift(mode: Traffic | None, service: Mapping[str, Any] | None) -> bool:
    """Whether the Service carries a trafficDistribution that must go: asked for, lifted now, still set."""
    have = (service or {}).get("spec", {}).get("trafficDistribution")
    return mode is not None and mode.value is None and have is not None
