"""What `spofless audit` reads: every node, workload, pod, budget, Service and endpoint in scope, as the
records of `records`, and the lists it was not allowed to read."""

from __future__ import annotations

from dataclasses import dataclass, field

from spofless.core.model.spec import DEFAULT_TOPOLOGY_KEY
from spofless.core.observed.records import Budget, EndpointSlice, Node, Pod, Service, Workload


@dataclass(frozen=True)
class Missing:
    """A list the audit was not allowed to make."""

    verb: str
    resource: str  # plural.group, as RBAC names it
    where: str  # a namespace, or "cluster-wide"
    effect: str  # what the report lacks because of it


@dataclass
class Inventory:
    """What the shell read. None for a list it could not read (see `missing`)."""

    nodes: list[Node] | None = None
    pods: list[Pod] | None = None
    workloads: list[Workload] | None = None
    budgets: list[Budget] | None = None
    services: list[Service] | None = None
    endpoints: list[EndpointSlice] | None = None
    missing: list[Missing] = field(default_factory=list)
    replicasets_read: bool = True  # False: Deployments' pods are told by their template's labels
    topology_key: str = DEFAULT_TOPOLOGY_KEY  # the node label that names a node's zone
