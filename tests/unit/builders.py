"""Small builders of observed state and sites for the pure-core tests."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from spofless.core.model import names, template
from spofless.core.observed.records import Child, Endpoint, Node, Observed, Pod
from spofless.core.site.decision import Site

ZONE_KEY = "topology.kubernetes.io/zone"
T0 = datetime(2026, 11, 27, 12, 0, 0, tzinfo=UTC)
TEMPLATE = {"spec": {"containers": [{"name": "web", "image": "nginx", "ports": [{"containerPort": 8080}]}]}}
REVISION = template.revision(TEMPLATE)


def nodes(zones: dict[str, int], not_ready: tuple[str, ...] = ()) -> tuple[Node, ...]:
    """`n` nodes per zone, named <zone>-<i>; zones in `not_ready` have all nodes NotReady."""
    return tuple(
        Node(name=f"{z}-{i}", labels={ZONE_KEY: z}, ready=z not in not_ready)
        for z, n in zones.items()
        for i in range(n)
    )


def pods(
    per_zone: dict[str, int],
    site: str = "shop",
    ready: bool = True,
    node_of: Any = None,
    revision: str | None = REVISION,
) -> tuple[Pod, ...]:
    """Ready pods spread round-robin over nodes <zone>-0..2 unless node_of(zone, i) says otherwise."""
    return tuple(
        Pod(
            name=f"{site}-{z}-{i}",
            zone=z,
            node=node_of(z, i) if node_of else f"{z}-{i % 3}",
            ready=ready,
            terminating=False,
            revision=revision,
        )
        for z, n in per_zone.items()
        for i in range(n)
    )


def endpoints(per_zone: dict[str, int]) -> tuple[Endpoint, ...]:
    return tuple(Endpoint(ready=True, zone=z, node=f"{z}-{i % 3}") for z, n in per_zone.items() for i in range(n))


def deployment_body(replicas: int, source: dict[str, Any] | None = TEMPLATE) -> dict[str, Any]:
    """A zone's Deployment running `source` (None: made before revisions, no annotations)."""
    if source is None:
        return {"spec": {"replicas": replicas}}
    revision = template.revision(source)
    return {
        "metadata": {"annotations": {names.ANNOTATION_TEMPLATE: json.dumps(source)}},
        "spec": {
            "replicas": replicas,
            "template": {"metadata": {"annotations": {names.ANNOTATION_REVISION: revision}}},
        },
    }


def deployments(site: str, replicas: dict[str, int], source: dict[str, Any] | None = TEMPLATE) -> tuple[Child, ...]:
    return tuple(
        Child(kind="Deployment", name=names.child_name(site, z), zone=z, body=deployment_body(n, source))
        for z, n in replicas.items()
    )


def budgets(site: str, zones: list[str] | None = None) -> tuple[Child, ...]:
    """The site's one budget (`zones` is accepted for old call sites and ignored)."""
    return (Child(kind="PodDisruptionBudget", name=site, zone=None, body={}),)


def world(
    zones: dict[str, int],
    ready: dict[str, int],
    replicas: dict[str, int] | None = None,
    not_ready: tuple[str, ...] = (),
    site: str = "shop",
) -> Observed:
    """A cluster with `zones` (nodes per zone), `ready` pods per zone and Deployments at `replicas`."""
    return Observed(
        nodes=nodes(zones, not_ready),
        pods=pods(ready, site),
        endpoints=endpoints(ready),
        children=deployments(site, replicas if replicas is not None else ready) + budgets(site, sorted(zones)),
    )


def site(spec: dict[str, Any] | None = None, status: dict[str, Any] | None = None, generation: int = 1) -> Site:
    return Site(
        name="shop",
        namespace="web",
        uid="uid-1",
        generation=generation,
        spec={"template": TEMPLATE, **(spec or {})},
        status=status or {},
    )
