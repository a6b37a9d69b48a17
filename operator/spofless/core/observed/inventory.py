"""What `spofless audit` reads: every workload, pod, budget, Service and endpoint in scope, reduced to
the fields the audit judges, and the lists it was not allowed to read."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any


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


def selector_from(raw: Any) -> Selector | None:
    if not isinstance(raw, Mapping):
        return None
    exprs = tuple(
        (str(e.get("key", "")), str(e.get("operator", "")), tuple(e.get("values") or ()))
        for e in raw.get("matchExpressions") or []
    )
    return Selector(tuple(sorted((raw.get("matchLabels") or {}).items())), exprs)


@dataclass(frozen=True)
class NodeRecord:
    name: str
    zone: str | None
    ready: bool


@dataclass(frozen=True)
class PodRecord:
    namespace: str
    name: str
    owner: tuple[str, str] | None  # (kind, name) of its controller
    node: str | None
    ready: bool
    terminating: bool
    labels: Mapping[str, str] = field(hash=False)


@dataclass(frozen=True)
class WorkloadRecord:
    """A Deployment, StatefulSet or ReplicaSet; `owner` is a ReplicaSet's Deployment."""

    kind: str
    namespace: str
    name: str
    replicas: int
    template_labels: Mapping[str, str] = field(hash=False)
    owner: tuple[str, str] | None = None
    labels: Mapping[str, str] = field(default_factory=dict, hash=False)  # its own


@dataclass(frozen=True)
class BudgetRecord:
    namespace: str
    name: str
    selector: Selector | None
    max_unavailable: int | str | None
    min_available: int | str | None
    expected_pods: int | None  # from its status


@dataclass(frozen=True)
class ServiceRecord:
    namespace: str
    name: str
    selector: tuple[tuple[str, str], ...] | None


@dataclass(frozen=True)
class EndpointRecord:
    namespace: str
    service: str
    ready: bool
    zone: str | None
    node: str | None


def _meta(body: Mapping[str, Any]) -> Mapping[str, Any]:
    return body.get("metadata") or {}


def _controller(body: Mapping[str, Any]) -> tuple[str, str] | None:
    for ref in _meta(body).get("ownerReferences") or []:
        if ref.get("controller"):
            return (str(ref.get("kind", "")), str(ref.get("name", "")))
    return None


def node_from(body: Mapping[str, Any], topology_key: str) -> NodeRecord:
    conditions = (body.get("status") or {}).get("conditions") or []
    ready = any(c.get("type") == "Ready" and c.get("status") == "True" for c in conditions)
    return NodeRecord(str(_meta(body).get("name", "")), (_meta(body).get("labels") or {}).get(topology_key), ready)


def pod_from(body: Mapping[str, Any]) -> PodRecord:
    meta = _meta(body)
    conditions = (body.get("status") or {}).get("conditions") or []
    return PodRecord(
        namespace=str(meta.get("namespace", "")),
        name=str(meta.get("name", "")),
        owner=_controller(body),
        node=(body.get("spec") or {}).get("nodeName"),
        ready=any(c.get("type") == "Ready" and c.get("status") == "True" for c in conditions),
        terminating=meta.get("deletionTimestamp") is not None,
        labels=dict(meta.get("labels") or {}),
    )


def workload_from(body: Mapping[str, Any], kind: str) -> WorkloadRecord:
    meta, spec = _meta(body), body.get("spec") or {}
    replicas = spec.get("replicas", 1)
    return WorkloadRecord(
        kind=kind,
        namespace=str(meta.get("namespace", "")),
        name=str(meta.get("name", "")),
        replicas=replicas if isinstance(replicas, int) else 1,
        template_labels=dict(((spec.get("template") or {}).get("metadata") or {}).get("labels") or {}),
        owner=_controller(body),
        labels=dict(meta.get("labels") or {}),
    )


def budget_from(body: Mapping[str, Any]) -> BudgetRecord:
    meta, spec, status = _meta(body), body.get("spec") or {}, body.get("status") or {}
    expected = status.get("expectedPods")
    return BudgetRecord(
        namespace=str(meta.get("namespace", "")),
        name=str(meta.get("name", "")),
        selector=selector_from(spec.get("selector")),
        max_unavailable=spec.get("maxUnavailable"),
        min_available=spec.get("minAvailable"),
        expected_pods=expected if isinstance(expected, int) else None,
    )


def service_from(body: Mapping[str, Any]) -> ServiceRecord:
    selector = (body.get("spec") or {}).get("selector")
    return ServiceRecord(
        str(_meta(body).get("namespace", "")),
        str(_meta(body).get("name", "")),
        tuple(sorted(selector.items())) if selector else None,
    )


def endpoints_from(body: Mapping[str, Any]) -> list[EndpointRecord]:
    meta = _meta(body)
    service = (meta.get("labels") or {}).get("kubernetes.io/service-name")
    if not service:
        return []
    return [
        EndpointRecord(
            namespace=str(meta.get("namespace", "")),
            service=service,
            ready=(ep.get("conditions") or {}).get("ready") is not False,
            zone=ep.get("zone"),
            node=ep.get("nodeName"),
        )
        for ep in body.get("endpoints") or []
    ]


# --- what is known, and what could not be read ------------------------------------------------


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

    nodes: list[NodeRecord] | None = None
    pods: list[PodRecord] | None = None
    workloads: list[WorkloadRecord] | None = None
    budgets: list[BudgetRecord] | None = None
    services: list[ServiceRecord] | None = None
    endpoints: list[EndpointRecord] | None = None
    missing: list[Missing] = field(default_factory=list)
    replicasets_read: bool = True  # False: Deployments' pods are told by their template's labels
