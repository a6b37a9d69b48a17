"""What one pass over a site starts from: the site as the shell read it, the spec, its memory, the time,
and whether carrying out the last decision failed."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from spofless.core.model.status import Finding, ResilientSiteStatus
from spofless.core.site import owned


@dataclass(frozen=True)
class Site:
    """The ResilientSite object, as the decision needs it."""

    name: str
    namespace: str
    uid: str
    generation: int
    spec: dict[str, Any]
    status: dict[str, Any]
    annotations: dict[str, str] = field(default_factory=dict)

    @property
    def owner(self) -> owned.Owner:
        return owned.Owner(name=self.name, namespace=self.namespace, uid=self.uid)

    @property
    def key(self) -> str:
        """namespace/name: the site's own order of the zones (placement.split.site_order)."""
        return f"{self.namespace}/{self.name}"


@dataclass(frozen=True)
class ApplyFailure:
    """Why carrying out the last decision did not go through. The shell reports it and asks again;
    the core decides what the status then says."""

    reason: Literal["ApplyRefused", "ApplyFailed"]  # refused: the spec's fault; failed: the API's
    message: str
    kind: str = ""  # the kind of the object refused


@dataclass(frozen=True)
class Problem:
    """Why the spec cannot be carried out on this cluster: the site is Invalid and Stalled, and
    nothing is applied or deleted until it is fixed."""

    reason: str  # InvalidSpec, NoZones, UnknownZone, ApplyRefused
    message: str


@dataclass(frozen=True)
class Pass:
    """One pass over one site: the site, its memory (the last status, read field by field, and what
    of it could not be read), the time, and the failure of the last apply if there was one."""

    site: Site
    prev: ResilientSiteStatus
    unreadable: list[Finding]  # Status warnings: fields of the stored status dropped when read
    now: datetime
    failure: ApplyFailure | None = None

    @property
    def refused_template(self) -> bool:
        """The API server refused a zone's Deployment: the template, as far as spofless can tell."""
        return self.failure is not None and self.failure.reason == "ApplyRefused" and self.failure.kind == "Deployment"
