"""The shell's one index of what sites depend on (Services, their EndpointSlices, the workloads
in their namespaces), its keys, and the lookup of one site's dependencies in it."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from spofless.core.judgement.dependencies import Key, keys
from spofless.core.observed.parse import endpoints_from, service_from, slice_service, workload_from
from spofless.core.observed.records import Child, Endpoint, ObservedDependency, Service, Workload

IndexKey = tuple[str, str, str]  # (namespace, service name or ANY, SERVICE | ENDPOINTS | WORKLOAD)
Record = Service | tuple[Endpoint, ...] | Workload
ANY = "*"
SERVICE, ENDPOINTS, WORKLOAD = "service", "endpoints", "workload"


def index_entry(body: Mapping[str, Any]) -> dict[IndexKey, Record]:
    """The index entry of a Service, an EndpointSlice, a Deployment or a StatefulSet: workloads are
    kept per namespace (a Service's selector picks among them), the rest per Service."""
    meta = body.get("metadata") or {}
    namespace, kind = str(meta.get("namespace", "")), body.get("kind")
    if kind == "Service":
        return {(namespace, str(meta.get("name", "")), SERVICE): service_from(body)}
    if kind == "EndpointSlice":
        service = slice_service(body)
        return {(namespace, service, ENDPOINTS): endpoints_from(body)} if service else {}
    if kind in ("Deployment", "StatefulSet"):
        return {(namespace, ANY, WORKLOAD): workload_from(body)}
    return {}


def trigger_key(body: Mapping[str, Any]) -> Key | None:
    """The dependents_index key a change to this object concerns."""
    meta = body.get("metadata") or {}
    namespace, kind = str(meta.get("namespace", "")), body.get("kind")
    if kind == "Service":
        return (namespace, str(meta.get("name", "")))
    if kind == "EndpointSlice":
        service = slice_service(body)
        return (namespace, service) if service else None
    if kind in ("Deployment", "StatefulSet"):
        return (namespace, ANY)
    return None


def dependents(namespace: str, name: str, raw_spec: Mapping[str, Any]) -> dict[Key, tuple[str, str]]:
    """(namespace, service) -> the site that names it; (namespace, ANY) -> the site, for a change to
    a workload there (its replicas show in the site's status)."""
    named = keys(namespace, raw_spec)
    return {k: (namespace, name) for k in named} | {(k[0], ANY): (namespace, name) for k in named}


def gather(
    site_namespace: str,
    raw_spec: Mapping[str, Any],
    index: Mapping[IndexKey, Iterable[Record]],
    site_children: Mapping[Key, Iterable[Child]],
    site_endpoints: Mapping[Key, Iterable[tuple[Endpoint, ...]]],
) -> tuple[ObservedDependency, ...]:
    """The dependencies of one site, looked up by (namespace, name). A site's own Service and
    endpoints are indexed per site (key (namespace, site), the Service's name), the rest in `index`,
    so a dependency on another site is found in the first."""
    out = []
    for ns, name in dict.fromkeys(keys(site_namespace, raw_spec)):
        service = next((r for r in index.get((ns, name, SERVICE), ()) if isinstance(r, Service)), None)
        slices = [r for r in index.get((ns, name, ENDPOINTS), ()) if isinstance(r, tuple)]
        if service is None and any(c.kind == "Service" and c.name == name for c in site_children.get((ns, name), ())):
            service, slices = Service(ns, name, selector=None, site=name), list(site_endpoints.get((ns, name), ()))
        workloads = tuple(r for r in index.get((ns, ANY, WORKLOAD), ()) if isinstance(r, Workload))
        endpoints = tuple(e for part in slices for e in part)
        out.append(
            ObservedDependency(namespace=ns, name=name, service=service, endpoints=endpoints, workloads=workloads)
        )
    return tuple(out)
