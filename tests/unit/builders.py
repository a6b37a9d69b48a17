"""Small builders of observed state and sites for the pure-core tests."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from spofless.core import naming
from spofless.core.decision import Site
from spofless.core.observed import Child, Endpoint, Node, Observed, Pod

ZONE_KEY = "topology.kubernetes.io/zone"
T0 = datetime(2026, 11, 27, 12, 0, 0, tzinfo=UTC)
TEMPLATE = {"spec": {"containers": [{"name": "web", "image": "nginx", "ports": [{"containerPort": 8080}]}]}}


def nodes(zones: dict[str, int], not_ready: tuple[str, ...] = ()) -> tuple[Node, ...]:
    """`n` nodes per zone, named <zone>-<i>; zones in `not_ready` have all nodes NotReady."""
    return tuple(
        Node(name=f"{z}-{i}", labels={ZONE_KEY: z}, ready=z not in not_ready)
        for z, n in zones.items()
        for i in range(n)
    )


def pods(per_zone: dict[str, int], site: str = "shop", ready: bool = True, node_of: Any = None) -> tuple[Pod, ...]:
    """Ready pods spread round-robin over nodes <zone>-0..2 unless node_of(zone, i) says otherwise."""
    return tuple(
        Pod(
            name=f"{site}-{z}-{i}",
            zone=z,
            node=node_of(z, i) if node_of else f"{z}-{i % 3}",
            ready=ready,
            terminating=False,
        )
        for z, n in per_zone.items()
        for i in range(n)
    )


def endpoints(per_zone: dict[str, int]) -> tuple[Endpoint, ...]:
    return tuple(Endpoint(ready=True, zone=z, node=f"{z}-{i % 3}") for z, n in per_zone.items() for i in range(n))


def deployments(site: str, replicas: dict[str, int]) -> tuple[Child, ...]:
    return tuple(
        Child(kind="Deployment", name=naming.child_name(site, z), zone=z, body={"spec": {"replicas": n}})
        for z, n in replicas.items()
    )


def budgets(site: str, zones: list[str]) -> tuple[Child, ...]:
    return tuple(Child(kind="PodDisruptionBudget", name=naming.child_name(site, z), zone=z, body={}) for z in zones)


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
