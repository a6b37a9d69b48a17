"""The records a decision reads: API objects reduced to the few facts the rules use."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

Body = Mapping[str, Any]


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
    zone: str
    node: str | None
    ready: bool
    terminating: bool
    unschedulable: bool = False  # PodScheduled=False with reason Unschedulable
    unschedulable_message: str | None = None  # the scheduler's reason, e.g. "0/15 nodes are available: ..."
    unschedulable_since: str | None = None  # that condition's lastTransitionTime
    cpu_milli: int = 0  # the containers' summed requests
    memory_bytes: int = 0
    revision: str | None = None  # the site template's revision that made it (spofless.dev/revision)
    failing: bool = False  # a container crash-loops or its image cannot be pulled: it will not turn ready


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
class ServiceInfo:
    """A Service: its selector (None when it has none), and the site it belongs to, if any."""

    selector: tuple[tuple[str, str], ...] | None
    site: str | None = None


@dataclass(frozen=True)
class WorkloadInfo:
    """A Deployment or StatefulSet: what a Service selector is matched against."""

    kind: str
    name: str
    replicas: int | None
    labels: frozenset[tuple[str, str]]  # of its pod template


@dataclass(frozen=True)
class Seen:
    """One dependency as observed; `service` None when no such Service exists."""

    namespace: str
    name: str
    service: ServiceInfo | None
    endpoints: tuple[Endpoint, ...] = ()
    workloads: tuple[WorkloadInfo, ...] = ()  # the workloads of its namespace


@dataclass(frozen=True)
class PodLoad:
    """One pod reduced to what the per-node sums need."""

    node: str
    cpu_milli: int
    memory_bytes: int
    site: bool  # a pod of a spofless site: it moves when its zone is lost


@dataclass(frozen=True)
class Observed:
    """Everything one decision about one site looks at."""

    nodes: tuple[Node, ...] = ()
    pods: tuple[Pod, ...] = ()
    endpoints: tuple[Endpoint, ...] = ()
    children: tuple[Child, ...] = ()
    usage: Mapping[str, Load] = field(default_factory=dict)  # node -> what its pods request, cluster-wide
    dependencies: tuple[Seen, ...] = ()  # the Services of spec.dependsOn (judgement/dependencies.py)
