"""The site's dependencies (`spec.dependsOn`): the Services a request needs after the web tier.

From what is observed of each dependency's Service (its selector), its EndpointSlices (ready
endpoints, their nodes and zones) and the workloads in its namespace, this says per dependency
where its ready endpoints are, which workload it fronts, and its single point of failure, with the
same rules as the site's own replicas (`rules`). spofless only reads a dependency, never changes it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final, Literal

from spofless.core.judgement import rules
from spofless.core.model.spec import KIND, DependencySpec, ResilientSiteSpec
from spofless.core.model.status import (
    DependencyLeft,
    DependencyStatus,
    DependencyWorkload,
    Finding,
    Severity,
    ZoneLoss,
)
from spofless.core.observed.records import Endpoint, Node, Observed, ObservedDependency, endpoint_serving

Key = tuple[str, str]  # (namespace, name) of a Service
SCOPE: Final[Literal["Dependency"]] = "Dependency"


def key_of(site_namespace: str, ref: str) -> Key:
    """`name` is in the site's namespace; `namespace/name` names both."""
    namespace, _, name = ref.rpartition("/")
    return (namespace or site_namespace, name)


def keys(site_namespace: str, raw_spec: Mapping[str, Any]) -> list[Key]:
    """The dependencies a site's spec names, read leniently (the shell looks them up before the
    spec is validated; an unreadable entry is skipped here and refused by the validation)."""
    entries = raw_spec.get("dependsOn")
    if not isinstance(entries, list):
        return []
    refs = [e.get("service") for e in entries if isinstance(e, dict)]
    return [key_of(site_namespace, r) for r in refs if isinstance(r, str) and r]


# --- the analysis -----------------------------------------------------------------------------


@dataclass(frozen=True)
class DependencyReport:
    """One dependency, resolved: where its ready endpoints are, what it fronts, its single point of failure."""

    service: str  # namespace/name
    required: bool
    found: bool
    ready: rules.Spread
    workloads: tuple[DependencyWorkload, ...]
    finding: Finding | None


@dataclass(frozen=True)
class _Cluster:
    nodes: tuple[Node, ...]
    topology_key: str
    multi_zone: bool  # the site has more than one zone: endpoints in one zone only are a SPOF


def resolve(
    site_namespace: str, spec: ResilientSiteSpec, observed: Observed, multi_zone: bool
) -> list[DependencyReport]:
    """Each dependency of the spec, in its order, with its single point of failure if it has one."""
    by_key = {(d.namespace, d.name): d for d in observed.dependencies}
    cluster = _Cluster(observed.nodes, spec.topology_key, multi_zone)
    out = []
    for dep in spec.depends_on:
        key = key_of(site_namespace, dep.service)
        out.append(_report(key, dep, by_key.get(key), cluster))
    return out


def _report(key: Key, dep: DependencySpec, observed: ObservedDependency | None, cluster: _Cluster) -> DependencyReport:
    required, nodes, topology_key, multi_zone = dep.required, cluster.nodes, cluster.topology_key, cluster.multi_zone
    name = f"{key[0]}/{key[1]}"
    severity: Severity = "SPOF" if required else "Warning"
    if observed is None or observed.service is None:
        message = f"dependency {name}: no such Service, so the site cannot reach it"
        finding = Finding(scope=SCOPE, name=name, severity=severity, message=message)
        return DependencyReport(name, required, False, rules.spread_of(()), (), finding)
    ready = _ready_endpoints(observed.endpoints, nodes, topology_key)
    weakness = rules.worst(rules.replica_weaknesses(ready, 2 if multi_zone else 1, "endpoint", f"Service {name}"))
    if weakness is None:
        return DependencyReport(name, required, True, ready, _workloads(observed), None)
    message = f"dependency {name}: {weakness.message}"
    finding = Finding(scope=SCOPE, name=name, severity=severity, message=message)
    return DependencyReport(name, required, True, ready, _workloads(observed), finding)


def _ready_endpoints(endpoints: tuple[Endpoint, ...], nodes: tuple[Node, ...], topology_key: str) -> rules.Spread:
    """Ready endpoints, not counting those on a node known to be NotReady (the endpoint's own
    condition follows a few seconds later). A missing zone is taken from the endpoint's node."""
    by_name = {n.name: n for n in nodes}

    def zone(e: Endpoint) -> str | None:
        node = by_name.get(e.node or "")
        return e.zone or (node.zone(topology_key) if node is not None else None)

    return rules.spread_of((zone(e), e.node) for e in endpoints if endpoint_serving(e, by_name))


def _workloads(observed: ObservedDependency) -> tuple[DependencyWorkload, ...]:
    """The workloads whose pods the Service selects (a site's Service: the site itself)."""
    service = observed.service
    if service is None:
        return ()
    if service.site:
        return (DependencyWorkload(kind=KIND, name=service.site),)
    if not service.selector:
        return ()
    wanted = set(service.selector)
    return tuple(
        DependencyWorkload(kind=w.kind, name=w.name, replicas=w.replicas)
        for w in sorted(observed.workloads, key=lambda w: (w.kind, w.name))
        if wanted <= w.template_labels
    )


def findings(reports: list[DependencyReport]) -> list[Finding]:
    return [r.finding for r in reports if r.finding is not None]


def statuses(reports: list[DependencyReport]) -> list[DependencyStatus]:
    return [
        DependencyStatus(
            service=r.service,
            required=r.required,
            found=r.found,
            ready_endpoints=r.ready.total,
            zones={z: n for z, n in sorted(r.ready.per_zone.items()) if n > 0},
            nodes=len([n for n, c in r.ready.per_node.items() if c > 0]),
            workloads=list(r.workloads),
        )
        for r in reports
    ]


def what_if_zones(expected: tuple[str, ...], reports: list[DependencyReport]) -> tuple[str, ...]:
    """The site's zones, then any other zone a dependency has endpoints in: losing it counts too."""
    extra = sorted({z for r in reports for z in r.ready.zones if z and z not in expected})
    return (*expected, *extra)


def zone_loss(rows: list[ZoneLoss], reports: list[DependencyReport], multi_zone: bool) -> list[ZoneLoss]:
    """The what-if rows with each dependency's endpoints left; down when the web tier or a required
    dependency would have nothing left, a SPOF when a required one would be left on one pillar."""
    if not reports:
        return rows
    out = []
    for row in rows:
        left = [(r, r.ready.left_after_losing(row.zone)) for r in reports]
        down = row.ready_replicas_left == 0 or any(r.required and n == 0 for r, n in left)
        thin = any(r.required and (n <= 1 or (multi_zone and _zones_left(r, row.zone) < 2)) for r, n in left)
        out.append(
            row.model_copy(
                update={
                    "dependencies": [DependencyLeft(service=r.service, ready_endpoints_left=n) for r, n in left],
                    "down": down,
                    "spof": row.spof or down or thin,
                }
            )
        )
    return out


def _zones_left(report: DependencyReport, lost: str) -> int:
    return len([z for z in report.ready.zones if z != lost])


def condition(reports: list[DependencyReport]) -> tuple[bool, str, str]:
    """The DependenciesReady condition: (ok, reason, message)."""
    missing = [r.service for r in reports if not r.found]
    empty = [r.service for r in reports if r.found and r.ready.total == 0]
    parts = [f"no such Service: {', '.join(missing)}"] if missing else []
    parts += [f"no ready endpoint: {', '.join(empty)}"] if empty else []
    if parts:
        return False, "DependencyNotFound" if missing else "NoReadyEndpoints", "; ".join(parts)
    return True, "EndpointsReady", f"every dependency has ready endpoints ({len(reports)})"
