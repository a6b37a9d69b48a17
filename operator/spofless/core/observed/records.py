"""What a pass and the audit read of the cluster: API objects reduced to the few facts the rules use,
one set of records for the operator and the audit, and the one definition of a ready pod."""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from spofless.core.observed.datacenters import DataCenterView

Body = Mapping[str, Any]
Labels = frozenset[tuple[str, str]]  # label pairs, hashable: a Service's selector is a subset of them


@dataclass(frozen=True)
class Selector:
    """A metav1.LabelSelector. `None` as a whole (no selector) matches nothing."""

    match_labels: tuple[tuple[str, str], ...] = ()
    match_expressions: tuple[tuple[str, str, tuple[str, ...]], ...] = ()

    def matches(self, labels: Mapping[str, str]) -> bool:
        if any(labels.get(k) != v for k, v in self.match_labels):
            return False
        return all(_expression(labels, key, op, values) for key, op, values in self.match_expressions)


def _expression(labels: Mapping[str, str], key: str, op: str, values: tuple[str, ...]) -> bool:
    if op == "In":
        return labels.get(key) in values
    if op == "NotIn":
        return labels.get(key) not in values
    if op == "Exists":
        return key in labels
    if op == "DoesNotExist":
        return key not in labels
    return False  # an operator the API would refuse


@dataclass(frozen=True)
class Allocatable:
    pods: int
    cpu_milli: int
    memory_bytes: int


@dataclass(frozen=True)
class Node:
    name: str
    labels: Mapping[str, str]
    ready: bool
    schedulable: bool = True  # False when cordoned (spec.unschedulable)
    allocatable: Allocatable | None = None  # None when the node reports none

    def zone(self, topology_key: str) -> str | None:
        return self.labels.get(topology_key)


@dataclass(frozen=True)
class Pod:
    name: str
    zone: str  # the zone label spofless puts on a site's pods; "" on any other pod
    node: str | None
    ready: bool
    terminating: bool
    unschedulable: bool = False  # PodScheduled=False with reason Unschedulable
    unschedulable_message: str | None = None  # the scheduler's reason, e.g. "0/15 nodes are available: ..."
    unschedulable_since: datetime | None = None  # that condition's lastTransitionTime (None: unreadable)
    cpu_milli: int = 0  # the containers' summed requests
    memory_bytes: int = 0
    revision: str | None = None  # the site template's revision that made it (spofless.dev/revision)
    failing: bool = False  # a container crash-loops or its image cannot be pulled: it will not turn ready
    namespace: str = ""
    owner: tuple[str, str] | None = None  # (kind, name) of its controller
    unready_by_us: bool = False  # Ready=False with spofless' reason: taken out of its Service, its zone silent
    # Its labels (the audit matches budgets and Deployments on them); no part of equality: a pass never reads them.
    labels: Mapping[str, str] = field(default_factory=dict, compare=False)


def counts_as_ready(ready: bool, terminating: bool, node_ready: bool | None) -> bool:
    """A pod or endpoint counts when it is Ready, not terminating, and its node is not known to be
    NotReady (`node_ready` None: the node is not known). A dead node's pods still say Ready for a while."""
    return ready and not terminating and node_ready is not False


def ready_nodes(nodes: Iterable[Node] | None) -> frozenset[str] | None:
    """The names of the Ready nodes; None when the nodes are not known (the audit could not list them)."""
    return None if nodes is None else frozenset(n.name for n in nodes if n.ready)


def serving(pod: Pod, ready_node_names: Collection[str] | None) -> bool:
    """A ready pod, the one definition: Ready, not terminating, and on a Ready node (a pod on a node
    that is gone does not count). `ready_node_names` None: the nodes are not known, the pod's word is taken."""
    node_ready = None if ready_node_names is None else pod.node in ready_node_names
    return counts_as_ready(pod.ready, pod.terminating, node_ready)


@dataclass(frozen=True)
class Load:
    """What the pods bound to one node request: all of them, and those of spofless sites (the
    ones a zone loss would move). Kept per node by the shell, from reduced pod records."""

    pods: int = 0
    cpu_milli: int = 0
    memory_bytes: int = 0
    site_pods: int = 0
    site_cpu_milli: int = 0
    site_memory_bytes: int = 0


@dataclass(frozen=True)
class Endpoint:
    ready: bool
    zone: str | None
    node: str | None


def endpoint_serving(endpoint: Endpoint, nodes: Mapping[str, Node]) -> bool:
    """A ready endpoint: Ready, and not on a node known to be NotReady (the endpoint's own condition
    follows a few seconds later). An endpoint whose node is not known counts."""
    node = nodes.get(endpoint.node or "")
    return counts_as_ready(endpoint.ready, False, node.ready if node is not None else None)


@dataclass(frozen=True)
class EndpointSlice:
    """The endpoints of one EndpointSlice, and the Service it belongs to."""

    namespace: str
    service: str
    endpoints: tuple[Endpoint, ...]


@dataclass(frozen=True)
class Child:
    """An object the site owns, as observed: kind, name, zone, and the body for drift checks.

    The body takes part in equality: kopf keeps an index value only when it compares unequal."""

    kind: str
    name: str
    zone: str | None
    body: Body = field(repr=False, hash=False)

    @property
    def terminating(self) -> bool:
        return bool(self.body.get("metadata", {}).get("deletionTimestamp"))

    @property
    def replicas(self) -> int | None:
        value = self.body.get("spec", {}).get("replicas")
        return value if isinstance(value, int) else None

    @property
    def resource_version(self) -> str:
        return str(self.body.get("metadata", {}).get("resourceVersion") or "")


@dataclass(frozen=True)
class Service:
    """A Service: its selector (None when it has none), and the site it belongs to, if any."""

    namespace: str
    name: str
    selector: tuple[tuple[str, str], ...] | None
    site: str | None = None


@dataclass(frozen=True)
class Workload:
    """A Deployment, StatefulSet or ReplicaSet: what a Service's selector and a budget are matched
    against, and what the audit judges. `owner` is a ReplicaSet's Deployment."""

    kind: str
    namespace: str
    name: str
    replicas: int | None  # None when the spec's value is no number
    template_labels: Labels  # of its pod template
    owner: tuple[str, str] | None = None
    labels: Mapping[str, str] = field(default_factory=dict, compare=False)  # its own (the audit only)


@dataclass(frozen=True)
class Budget:
    """A PodDisruptionBudget (the audit only)."""

    namespace: str
    name: str
    selector: Selector | None
    max_unavailable: int | str | None
    min_available: int | str | None
    expected_pods: int | None  # from its status


@dataclass(frozen=True)
class ObservedDependency:
    """One Service of spec.dependsOn as observed; `service` None when no such Service exists."""

    namespace: str
    name: str
    service: Service | None
    endpoints: tuple[Endpoint, ...] = ()
    workloads: tuple[Workload, ...] = ()  # the workloads of its namespace


@dataclass(frozen=True)
class PodLoad:
    """One pod reduced to what the per-node sums need."""

    node: str
    cpu_milli: int
    memory_bytes: int
    site: bool  # a pod of a spofless site: it moves when its zone is lost


@dataclass(frozen=True)
class ZoneSilence:
    """The cluster's zone-silence verdict (core/placement/silence.py, timed by the shell), as a pass reads it."""

    topology_key: str  # the zones the verdict speaks of
    zone: str | None = None  # the zone judged silent now
    silent_for: float = 0.0  # seconds since its freshest node Lease was renewed
    recovered_for: Mapping[str, float] = field(default_factory=dict)  # zones silent before, renewing again: how long
    held_off: tuple[str, ...] = ()  # zones a kubelet proved alive while judged silent


@dataclass(frozen=True)
class Observed:
    """Everything one decision about one site looks at."""

    nodes: tuple[Node, ...] = ()
    pods: tuple[Pod, ...] = ()
    endpoints: tuple[Endpoint, ...] = ()
    children: tuple[Child, ...] = ()
    usage: Mapping[str, Load] = field(default_factory=dict)  # node -> what its pods request, cluster-wide
    dependencies: tuple[ObservedDependency, ...] = ()  # the Services of spec.dependsOn (judgement/dependencies.py)
    silence: ZoneSilence | None = None  # None: no detector runs (or no Lease seen yet)
    datacenters: DataCenterView | None = None  # the store's view, when this data center is one of several
