"""The site's scale: what spec.replicas becomes, and what the /scale subresource reports.

A HorizontalPodAutoscaler reads `.status.replicas` as the site's current scale and `.status.selector`
to find its pods. During a failover the lost zone keeps its pods (they may serve behind a partition)
while the other zones carry its share, so the zones' Deployments ask for more than spec.replicas;
reporting that sum would make an HPA whose metric sits in its tolerance band write it back into
spec.replicas, ratcheting the site up with every outage. So status.replicas counts the zones in
service only, without the surplus a failback holds for a while: it never exceeds the scale asked.
"""

from __future__ import annotations

from collections.abc import Sequence

from spofless.core.model import names
from spofless.core.model.spec import ResilientSiteSpec
from spofless.core.model.status import Finding
from spofless.core.placement import split


def replicas(spec: ResilientSiteSpec) -> int:
    """The replicas to run: spec.replicas, raised to minZones (one per zone) unless it is 0.

    Fewer replicas than minZones would make a single point of failure on purpose; 0 is an explicit
    stop and is honoured."""
    return 0 if spec.replicas == 0 else max(spec.replicas, spec.min_zones)


def floor_finding(spec: ResilientSiteSpec) -> Finding | None:
    """A warning when spec.replicas was raised to minZones."""
    if replicas(spec) == spec.replicas:
        return None
    return Finding(
        scope="Replica",
        name="spec.replicas",
        severity="Warning",
        message=f"spec.replicas {spec.replicas} is below minZones {spec.min_zones}: running {spec.min_zones} "
        "replicas, one per zone, so that no zone is a single point of failure",
    )


def selector(site: str) -> str:
    """The site's pods, as a label selector string (the /scale subresource's form)."""
    return ",".join(f"{k}={v}" for k, v in sorted(names.site_labels(site).items()))


def current(plan: split.Placement, out_of_service: Sequence[str]) -> int:
    """status.replicas: what the zones in service are asked for, surplus held during a failback excluded."""
    return sum(min(plan.desired[z], plan.target[z]) for z in plan.desired if z not in out_of_service)
