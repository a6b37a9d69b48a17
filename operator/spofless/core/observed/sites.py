"""A ResilientSite as a reader outside the operator sees it (the kubectl plugin): its spec's few
fields that explain a verdict, and its status read field by field and item by item.

An operator of another version may write fields this one does not know, or miss some: an item that
cannot be read is dropped and an unknown field ignored, so one odd entry never hides the rest.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

from pydantic import ValidationError

from spofless.core.model.base import Model
from spofless.core.model.spec import DEFAULT_TOPOLOGY_KEY
from spofless.core.model.status import Condition, EvacuationStatus, Finding, RolloutStatus, ZoneLoss, ZoneStatus

M = TypeVar("M", bound=Model)


def lenient(model: type[M], raw: Any) -> M | None:
    """`raw` as `model`, its unknown fields ignored; None when what it knows cannot be read."""
    if not isinstance(raw, Mapping):
        return None
    known = {f.alias or name for name, f in model.model_fields.items()} | set(model.model_fields)
    try:
        return model.model_validate({k: v for k, v in raw.items() if k in known})
    except ValidationError:
        return None


def _items(model: type[M], raw: Any) -> tuple[M, ...]:
    items = (lenient(model, item) for item in (raw if isinstance(raw, list) else []))
    return tuple(i for i in items if i is not None)


@dataclass(frozen=True)
class SiteRecord:
    namespace: str
    name: str
    generation: int | None
    has_status: bool
    observed_generation: int | None
    phase: str | None
    message: str
    replicas: int | None  # spec.replicas
    ready_replicas: int | None
    topology_key: str
    failover: bool  # spec.failover.enabled
    findings: tuple[Finding, ...]
    zones: tuple[ZoneStatus, ...]
    zone_loss: tuple[ZoneLoss, ...]
    evacuations: tuple[EvacuationStatus, ...]
    conditions: tuple[Condition, ...]
    rollout: RolloutStatus | None

    @property
    def key(self) -> str:
        return f"{self.namespace}/{self.name}"

    def condition(self, kind: str) -> Condition | None:
        return next((c for c in self.conditions if c.type == kind), None)

    def loss_of(self, zone: str) -> ZoneLoss | None:
        return next((z for z in self.zone_loss if z.zone == zone), None)


def _mapping(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def site_from(body: Mapping[str, Any]) -> SiteRecord:
    meta = body.get("metadata") or {}
    spec, status = _mapping(body.get("spec")), _mapping(body.get("status"))
    failover = _mapping(spec.get("failover"))
    key = spec.get("topologyKey")
    phase = status.get("phase")
    return SiteRecord(
        namespace=str(meta.get("namespace", "")),
        name=str(meta.get("name", "")),
        generation=_int(meta.get("generation")),
        has_status=bool(status),
        observed_generation=_int(status.get("observedGeneration")),
        phase=phase if isinstance(phase, str) else None,
        message=str(status.get("message") or ""),
        replicas=_int(spec.get("replicas", 3)),
        ready_replicas=_int(status.get("readyReplicas")),
        topology_key=key if isinstance(key, str) and key else DEFAULT_TOPOLOGY_KEY,
        failover=failover.get("enabled", True) is not False,
        findings=_items(Finding, status.get("singlePointsOfFailure")),
        zones=_items(ZoneStatus, status.get("zones")),
        zone_loss=_items(ZoneLoss, status.get("zoneLoss")),
        evacuations=_items(EvacuationStatus, status.get("evacuations")),
        conditions=_items(Condition, status.get("conditions")),
        rollout=lenient(RolloutStatus, status.get("rollout")),
    )
