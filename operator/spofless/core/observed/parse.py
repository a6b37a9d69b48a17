"""Parsers: an API object (a plain dict) to its record. Pure, and lenient: a missing field is a default."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from spofless.core.model import names
from spofless.core.observed import quantity
from spofless.core.observed.records import (
    Allocatable,
    Body,
    Child,
    Endpoint,
    Node,
    Pod,
    PodLoad,
    ServiceInfo,
    WorkloadInfo,
)


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
        unschedulable=unschedulable,
        unschedulable_message=scheduled.get("message") if unschedulable else None,
        unschedulable_since=scheduled.get("lastTransitionTime") if unschedulable else None,
        cpu_milli=cpu,
        memory_bytes=memory,
        revision=(meta.get("annotations") or {}).get(names.ANNOTATION_REVISION),
        failing=_failing(body),
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


def service_from(body: Mapping[str, Any], site_label: str) -> ServiceInfo:
    spec = body.get("spec") or {}
    selector = spec.get("selector")
    labels = (body.get("metadata") or {}).get("labels") or {}
    return ServiceInfo(
        selector=tuple(sorted(selector.items())) if selector else None,
        site=labels.get(site_label),
    )


def workload_from(body: Mapping[str, Any]) -> WorkloadInfo:
    spec = body.get("spec") or {}
    replicas = spec.get("replicas", 1)  # the API's default
    labels = ((spec.get("template") or {}).get("metadata") or {}).get("labels") or {}
    return WorkloadInfo(
        kind=str(body.get("kind", "")),
        name=str((body.get("metadata") or {}).get("name", "")),
        replicas=replicas if isinstance(replicas, int) else None,
        labels=frozenset(labels.items()),
    )


def slice_service(body: Mapping[str, Any]) -> str | None:
    """The name of the Service an EndpointSlice belongs to."""
    return ((body.get("metadata") or {}).get("labels") or {}).get(SERVICE_NAME_LABEL)


def pod_load_from(body: Body) -> PodLoad | None:
    """The pod's load on its node; None when it holds none (not bound yet, or finished)."""
    spec = body.get("spec", {})
    node = spec.get("nodeName")
    if not node or body.get("status", {}).get("phase") in ("Succeeded", "Failed"):
        return None
    labels = body.get("metadata", {}).get("labels") or {}
    cpu, memory = quantity.pod_requests(spec)
    return PodLoad(node, cpu, memory, labels.get(names.LABEL_MANAGED_BY) == names.MANAGED_BY)
