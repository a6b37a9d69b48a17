"""Parsers: an API object (a plain dict) to its record, for the operator and the audit alike. Pure, and
lenient: a missing field is a default."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from spofless.core.model import names, times
from spofless.core.observed import quantity
from spofless.core.observed.records import (
    Allocatable,
    Body,
    Budget,
    Child,
    Endpoint,
    EndpointSlice,
    Node,
    Pod,
    PodLoad,
    Selector,
    Service,
    Workload,
)


def _meta(body: Body) -> Mapping[str, Any]:
    return body.get("metadata") or {}


def _controller(body: Body) -> tuple[str, str] | None:
    for ref in _meta(body).get("ownerReferences") or []:
        if ref.get("controller"):
            return (str(ref.get("kind", "")), str(ref.get("name", "")))
    return None


def _find(body: Body, kind: str) -> Mapping[str, Any]:
    for cond in body.get("status", {}).get("conditions") or []:
        if cond.get("type") == kind:
            return cond  # type: ignore[no-any-return]
    return {}


def _condition(body: Body, kind: str) -> str | None:
    status = _find(body, kind).get("status")
    return None if status is None else str(status)


def _allocatable(body: Body) -> Allocatable | None:
    have = body.get("status", {}).get("allocatable") or {}
    if "pods" not in have:
        return None
    return Allocatable(
        pods=quantity.units(have.get("pods")),
        cpu_milli=quantity.milli(have.get("cpu")),
        memory_bytes=quantity.units(have.get("memory")),
    )


def node_from(body: Body) -> Node:
    meta = body.get("metadata", {})
    return Node(
        name=meta.get("name", ""),
        labels=dict(meta.get("labels") or {}),
        ready=_condition(body, "Ready") == "True",
        schedulable=not body.get("spec", {}).get("unschedulable"),
        allocatable=_allocatable(body),
    )


# Waiting reasons of a container that will not start by itself: the rollout halts at once on them.
FAILING_REASONS = frozenset(
    {"CrashLoopBackOff", "ErrImagePull", "ImagePullBackOff", "InvalidImageName", "CreateContainerConfigError"}
)
CRASH_RESTARTS = 3  # restarts of one container that count as crash-looping, whatever it waits on now


def _failing(body: Body) -> bool:
    for status in body.get("status", {}).get("containerStatuses") or []:
        reason = ((status.get("state") or {}).get("waiting") or {}).get("reason")
        if reason in FAILING_REASONS or (status.get("restartCount") or 0) >= CRASH_RESTARTS:
            return True
    return False


def pod_from(body: Body) -> Pod:
    meta = body.get("metadata", {})
    spec = body.get("spec", {})
    scheduled = _find(body, "PodScheduled")
    unschedulable = scheduled.get("status") == "False" and scheduled.get("reason") == "Unschedulable"
    cpu, memory = quantity.pod_requests(spec)
    return Pod(
        name=meta.get("name", ""),
        zone=(meta.get("labels") or {}).get(names.LABEL_ZONE, ""),
        node=spec.get("nodeName"),
        ready=_condition(body, "Ready") == "True",
        terminating=meta.get("deletionTimestamp") is not None,
        unready_by_us=_find(body, "Ready").get("reason") == names.REASON_ZONE_SILENT
        and _condition(body, "Ready") == "False",
        unschedulable=unschedulable,
        unschedulable_message=scheduled.get("message") if unschedulable else None,
        unschedulable_since=times.parse(scheduled.get("lastTransitionTime")) if unschedulable else None,
        cpu_milli=cpu,
        memory_bytes=memory,
        revision=(meta.get("annotations") or {}).get(names.ANNOTATION_REVISION),
        failing=_failing(body),
        namespace=str(meta.get("namespace", "")),
        owner=_controller(body),
        labels=dict(meta.get("labels") or {}),
    )


def endpoints_from(body: Body) -> tuple[Endpoint, ...]:
    """The endpoints of one EndpointSlice. A missing `ready` means ready (API semantics)."""
    return tuple(
        Endpoint(
            ready=(ep.get("conditions") or {}).get("ready") is not False,
            zone=ep.get("zone"),
            node=ep.get("nodeName"),
        )
        for ep in body.get("endpoints") or []
    )


# What is kept of an object's metadata: what spofless sets, and what says which version it saw.
_KEPT_METADATA = ("name", "namespace", "labels", "ownerReferences", "resourceVersion", "deletionTimestamp")


def projection(body: Body, metadata: tuple[str, ...] = _KEPT_METADATA) -> dict[str, Any]:
    """The part of an object a decision reads: kind, a few metadata fields, spofless' own annotations
    (a zone's template and rollback, a site's resume) and the spec. Status, managed fields and other
    annotations are dropped: they are most of an object's size, and an index keeps one per object of
    every site."""
    meta = body.get("metadata", {})
    kept = {k: meta[k] for k in metadata if k in meta}
    own = {k: v for k, v in (meta.get("annotations") or {}).items() if k.startswith(names.ANNOTATION_PREFIX)}
    if own:
        kept["annotations"] = own
    return {
        "apiVersion": body.get("apiVersion", ""),
        "kind": body.get("kind", ""),
        "metadata": kept,
        "spec": body.get("spec") or {},
    }


def child_from(body: Body) -> Child:
    meta = body.get("metadata", {})
    return Child(
        kind=body.get("kind", ""),
        name=meta.get("name", ""),
        zone=(meta.get("labels") or {}).get(names.LABEL_ZONE),
        body=projection(body),
    )


SERVICE_NAME_LABEL = "kubernetes.io/service-name"  # on every EndpointSlice, naming its Service


def slice_service(body: Body) -> str | None:
    """The name of the Service an EndpointSlice belongs to."""
    return (_meta(body).get("labels") or {}).get(SERVICE_NAME_LABEL)


def slice_from(body: Body) -> EndpointSlice | None:
    """An EndpointSlice with its Service's name; None when it names no Service."""
    service = slice_service(body)
    if not service:
        return None
    return EndpointSlice(str(_meta(body).get("namespace", "")), service, endpoints_from(body))


def service_from(body: Body) -> Service:
    meta = _meta(body)
    selector = (body.get("spec") or {}).get("selector")
    return Service(
        namespace=str(meta.get("namespace", "")),
        name=str(meta.get("name", "")),
        selector=tuple(sorted(selector.items())) if selector else None,
        site=(meta.get("labels") or {}).get(names.LABEL_SITE),
    )


def workload_from(body: Body, kind: str | None = None) -> Workload:
    """A Deployment, StatefulSet or ReplicaSet; `kind` for the items of a list, which carry none."""
    meta, spec = _meta(body), body.get("spec") or {}
    replicas = spec.get("replicas", 1)  # the API's default
    labels = ((spec.get("template") or {}).get("metadata") or {}).get("labels") or {}
    return Workload(
        kind=kind or str(body.get("kind", "")),
        namespace=str(meta.get("namespace", "")),
        name=str(meta.get("name", "")),
        replicas=replicas if isinstance(replicas, int) else None,
        template_labels=frozenset(labels.items()),
        owner=_controller(body),
        labels=dict(meta.get("labels") or {}),
    )


def selector_from(raw: Any) -> Selector | None:
    if not isinstance(raw, Mapping):
        return None
    exprs = tuple(
        (str(e.get("key", "")), str(e.get("operator", "")), tuple(e.get("values") or ()))
        for e in raw.get("matchExpressions") or []
    )
    return Selector(tuple(sorted((raw.get("matchLabels") or {}).items())), exprs)


def budget_from(body: Body) -> Budget:
    meta, spec, status = _meta(body), body.get("spec") or {}, body.get("status") or {}
    expected = status.get("expectedPods")
    return Budget(
        namespace=str(meta.get("namespace", "")),
        name=str(meta.get("name", "")),
        selector=selector_from(spec.get("selector")),
        max_unavailable=spec.get("maxUnavailable"),
        min_available=spec.get("minAvailable"),
        expected_pods=expected if isinstance(expected, int) else None,
    )


def pod_load_from(body: Body) -> PodLoad | None:
    """The pod's load on its node; None when it holds none (not bound yet, or finished)."""
    spec = body.get("spec", {})
    node = spec.get("nodeName")
    if not node or body.get("status", {}).get("phase") in ("Succeeded", "Failed"):
        return None
    labels = body.get("metadata", {}).get("labels") or {}
    cpu, memory = quantity.pod_requests(spec)
    return PodLoad(node, cpu, memory, labels.get(names.LABEL_MANAGED_BY) == names.MANAGED_BY)
