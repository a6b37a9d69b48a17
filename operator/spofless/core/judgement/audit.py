"""`spofless audit`'s judgement, for workloads spofless does not own: Deployments, StatefulSets and
ReplicaSets without an owner, their live placement, the budgets that cover them, the Services in
front of them, and what losing each zone would leave. Pure: records in, a report out.

Every single point of failure here comes from `rules`, the functions the operator's status uses.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

from spofless.core.judgement import rules
from spofless.core.model import names
from spofless.core.model.status import Severity
from spofless.core.observed.inventory import Inventory, Missing
from spofless.core.observed.records import (
    Budget,
    Endpoint,
    Node,
    Pod,
    Service,
    Workload,
    endpoint_serving,
    ready_nodes,
    serving,
)

SEVERITY_RANK: dict[str, int] = {"SPOF": 2, "Warning": 1}


@dataclass(frozen=True)
class AuditFinding:
    """One single point of failure (or warning) of a workload, Service, budget or the cluster, for the report."""

    severity: Severity
    scope: str  # Replica, Zone, Node, Service, DisruptionBudget, Topology, Permission
    kind: str
    namespace: str
    name: str
    message: str


@dataclass(frozen=True)
class WorkloadReport:
    kind: str
    namespace: str
    name: str
    replicas: int
    ready: rules.Spread | None  # None when pods could not be read
    budgets: tuple[str, ...] | None  # None when budgets could not be read
    zone_loss: dict[str, int]  # ready pods left if the zone were lost
    finding: AuditFinding | None


@dataclass(frozen=True)
class ServiceReport:
    namespace: str
    name: str
    ready: rules.Spread
    finding: AuditFinding | None


@dataclass(frozen=True)
class BudgetReport:
    namespace: str
    name: str
    covers: int | None  # pods it selects (None: unknown)
    findings: tuple[AuditFinding, ...]


@dataclass(frozen=True)
class ZoneOutcome:
    """What losing one zone would do to the audited workloads."""

    zone: str
    down: tuple[str, ...]  # namespace/kind/name of workloads left with no ready pod
    one_left: tuple[str, ...]  # left with a single ready pod


@dataclass(frozen=True)
class AuditReport:
    """What `spofless audit` prints: every audited workload, Service and budget, the what-if per zone, the findings."""

    zones: tuple[str, ...]
    nodes: int | None
    workloads: tuple[WorkloadReport, ...]
    services: tuple[ServiceReport, ...]
    budgets: tuple[BudgetReport, ...]
    zone_loss: tuple[ZoneOutcome, ...]
    findings: tuple[AuditFinding, ...]
    missing: tuple[Missing, ...]

    def fails(self, threshold: Literal["SPOF", "Warning"] | None) -> bool:
        """True when a finding at or above `threshold` is present (None: never)."""
        if threshold is None:
            return False
        return any(SEVERITY_RANK[f.severity] >= SEVERITY_RANK[threshold] for f in self.findings)


def audit(inv: Inventory, selected: Iterable[tuple[str, str, str]] | None = None) -> AuditReport:
    """The report. `selected`: (kind, namespace, name) of the workloads and Services to report on
    (a label selector's choice); None reports every one read."""
    chosen = set(selected) if selected is not None else None
    nodes = {n.name: n for n in inv.nodes or []}
    zone_of = {n.name: n.zone(inv.topology_key) for n in nodes.values()}
    zones = tuple(sorted({z for n in nodes.values() if (z := zone_of[n.name]) and n.ready}))
    units = [
        u for u in _units(_audited(inv.workloads or []))
        if chosen is None or any((m.kind, m.namespace, m.name) in chosen for m in u.members)
    ]  # fmt: skip
    pods_of = _pods_by_workload(inv)
    budgets_in = _by_namespace(inv.budgets) if inv.budgets is not None else None
    cluster = _Cluster(nodes, zone_of, zones, ready_nodes(inv.nodes))
    reports = tuple(_workload(u, pods_of, budgets_in, inv, cluster) for u in units)
    endpoints_of: dict[tuple[str, str], list[Endpoint]] = {}
    for piece in inv.endpoints or []:
        endpoints_of.setdefault((piece.namespace, piece.service), []).extend(piece.endpoints)
    services = tuple(
        _service(s, endpoints_of.get((s.namespace, s.name), []), cluster)
        for s in inv.services or []
        if s.selector
        and (chosen is None or ("Service", s.namespace, s.name) in chosen)
        and inv.endpoints is not None  # without them, every Service would look down
    )
    pods_in = _by_namespace(inv.pods) if inv.pods is not None else None
    budgets = tuple(_budget(b, pods_in) for b in inv.budgets or [] if chosen is None or _covers_any(b, reports))
    found = [
        *_topology(inv, zones),
        *(r.finding for r in reports if r.finding),
        *(s.finding for s in services if s.finding),
        *(f for b in budgets for f in b.findings),
        *(_permission(m) for m in inv.missing),
    ]
    found.sort(key=lambda f: (-SEVERITY_RANK[f.severity], f.namespace, f.kind, f.name, f.scope))
    return AuditReport(
        zones=zones,
        nodes=len(nodes) if inv.nodes is not None else None,
        workloads=reports,
        services=services,
        budgets=budgets,
        zone_loss=tuple(_zone_outcome(z, reports) for z in zones),
        findings=tuple(found),
        missing=tuple(inv.missing),
    )


@dataclass(frozen=True)
class _Cluster:
    """The nodes as the audit reads them: by name, their zones, and which are Ready (None: not listed)."""

    nodes: Mapping[str, Node]
    zone_of: Mapping[str, str | None]
    zones: tuple[str, ...]
    ready: frozenset[str] | None

    @property
    def multi_zone(self) -> bool:
        return len(self.zones) > 1

    def zone(self, node: str | None) -> str | None:
        return self.zone_of.get(node or "")


def _audited(workloads: list[Workload]) -> list[Workload]:
    """Deployments, StatefulSets and ReplicaSets without an owner (a Deployment's are its own)."""
    keep = [w for w in workloads if w.kind != "ReplicaSet" or w.owner is None]
    return sorted(keep, key=lambda w: (w.namespace, w.kind, w.name))


@dataclass(frozen=True)
class _Unit:
    """What is judged as one: a workload, or the per-zone Deployments of one ResilientSite (each is
    confined to its zone by design; the site as a whole is what must not stand on one pillar)."""

    kind: str
    namespace: str
    name: str
    members: tuple[Workload, ...]

    @property
    def replicas(self) -> int:
        return sum(m.replicas if m.replicas is not None else 1 for m in self.members)


def _units(workloads: list[Workload]) -> list[_Unit]:
    sites: dict[tuple[str, str], list[Workload]] = {}
    out: list[_Unit] = []
    for w in workloads:
        site = w.labels.get(names.LABEL_SITE)
        if w.kind == "Deployment" and site and w.labels.get(names.LABEL_MANAGED_BY) == names.MANAGED_BY:
            sites.setdefault((w.namespace, site), []).append(w)
        else:
            out.append(_Unit(w.kind, w.namespace, w.name, (w,)))
    out += [_Unit("ResilientSite", ns, name, tuple(members)) for (ns, name), members in sites.items()]
    return sorted(out, key=lambda u: (u.namespace, u.kind, u.name))


def _pods_by_workload(inv: Inventory) -> dict[tuple[str, str, str], list[Pod]]:
    """Pods per (kind, namespace, name) of the audited workload that owns them: a ReplicaSet's pods
    belong to its Deployment when it has one."""
    rs_owner = {
        (w.namespace, w.name): w.owner
        for w in inv.workloads or []
        if w.kind == "ReplicaSet" and w.owner is not None and w.owner[0] == "Deployment"
    }
    deployments_in = _by_namespace([w for w in inv.workloads or [] if w.kind == "Deployment"])
    out: dict[tuple[str, str, str], list[Pod]] = {}
    for pod in inv.pods or []:
        if pod.owner is None:
            continue
        kind, name = pod.owner
        if kind == "ReplicaSet" and (owner := rs_owner.get((pod.namespace, name))) is not None:
            kind, name = owner
        elif kind == "ReplicaSet" and not inv.replicasets_read:
            by_labels = _deployment_by_labels(pod, deployments_in.get(pod.namespace, []))
            kind, name = ("Deployment", by_labels) if by_labels else (kind, name)
        out.setdefault((kind, pod.namespace, name), []).append(pod)
    return out


def _deployment_by_labels(pod: Pod, deployments: list[Workload]) -> str | None:
    """The Deployment whose pod template's labels the pod carries, when exactly one does."""
    matches = [
        d.name for d in deployments if d.template_labels and all(pod.labels.get(k) == v for k, v in d.template_labels)
    ]
    return matches[0] if len(matches) == 1 else None


def _by_namespace(items: list[Any]) -> dict[str, list[Any]]:
    out: dict[str, list[Any]] = {}
    for item in items:
        out.setdefault(item.namespace, []).append(item)
    return out


def _workload(
    w: _Unit,
    pods_of: Mapping[tuple[str, str, str], list[Pod]],
    budgets_in: Mapping[str, list[Budget]] | None,
    inv: Inventory,
    cluster: _Cluster,
) -> WorkloadReport:
    budgets = (
        None
        if budgets_in is None
        else tuple(
            b.name
            for b in budgets_in.get(w.namespace, [])
            if any(_covers(b, dict(m.template_labels)) for m in w.members)
        )
    )
    if inv.pods is None:
        return WorkloadReport(w.kind, w.namespace, w.name, w.replicas, None, budgets, {}, None)
    ready = rules.spread_of(
        (
            (cluster.zone(p.node), p.node)
            for m in w.members
            for p in pods_of.get((m.kind, m.namespace, m.name), [])
            if serving(p, cluster.ready)
        ),
        cluster.zones,
    )
    finding = None
    if w.replicas > 0:
        what = f"{w.kind} {w.namespace}/{w.name}"
        weakness = rules.worst(rules.replica_weaknesses(ready, 2 if cluster.multi_zone else 1, "pod", what))
        if weakness is not None:
            message = weakness.message if what in weakness.message else f"{what}: {weakness.message}"
            finding = AuditFinding("SPOF", weakness.scope, w.kind, w.namespace, w.name, message)
    loss = {z: ready.left_after_losing(z) for z in cluster.zones}
    return WorkloadReport(w.kind, w.namespace, w.name, w.replicas, ready, budgets, loss, finding)


def _covers_any(budget: Budget, reports: tuple[WorkloadReport, ...]) -> bool:
    """With a label selector, a budget is reported when it covers a workload reported on."""
    return any(r.namespace == budget.namespace and budget.name in (r.budgets or ()) for r in reports)


def _covers(budget: Budget, labels: Mapping[str, str]) -> bool:
    return budget.selector is not None and budget.selector.matches(labels)


def _service(s: Service, endpoints: list[Endpoint], cluster: _Cluster) -> ServiceReport:
    ready = rules.spread_of(
        (e.zone or cluster.zone(e.node), e.node) for e in endpoints if endpoint_serving(e, cluster.nodes)
    )
    weaknesses = rules.endpoint_weaknesses(f"{s.namespace}/{s.name}", ready, cluster.multi_zone)
    finding = (
        AuditFinding("SPOF", "Service", "Service", s.namespace, s.name, weaknesses[0].message) if weaknesses else None
    )
    return ServiceReport(s.namespace, s.name, ready, finding)


def _budget(b: Budget, pods_in: Mapping[str, list[Pod]] | None) -> BudgetReport:
    if pods_in is not None:
        covers: int | None = sum(1 for p in pods_in.get(b.namespace, []) if not p.terminating and _covers(b, p.labels))
    else:
        covers = b.expected_pods
    found = []
    if covers == 0:
        found.append(AuditFinding("Warning", "DisruptionBudget", "PodDisruptionBudget", b.namespace, b.name,
                             f"PodDisruptionBudget {b.namespace}/{b.name} covers no pod"))  # fmt: skip
    elif covers is not None and rules.budget_blocks_evictions(b.max_unavailable, b.min_available, covers):
        limit = (
            f"maxUnavailable {b.max_unavailable}"
            if b.max_unavailable is not None
            else f"minAvailable {b.min_available} of {covers} pods"
        )
        found.append(AuditFinding("Warning", "DisruptionBudget", "PodDisruptionBudget", b.namespace, b.name,
                             f"PodDisruptionBudget {b.namespace}/{b.name} never allows an eviction ({limit}): node drains will hang"))  # fmt: skip
    return BudgetReport(b.namespace, b.name, covers, tuple(found))


def _topology(inv: Inventory, zones: tuple[str, ...]) -> list[AuditFinding]:
    if inv.nodes is None or len(zones) > 1:
        return []
    where = zones[0] if zones else "(no zone label)"
    message = f"every Ready node of the cluster is in one zone, {where}: losing it loses every workload"
    return [AuditFinding("SPOF", "Topology", "Cluster", "", where, message)]


def _permission(m: Missing) -> AuditFinding:
    return AuditFinding("Warning", "Permission", "Permission", "" if m.where == "cluster-wide" else m.where,
                        f"{m.verb} {m.resource}", f"cannot {m.verb} {m.resource} ({m.where}): {m.effect}")  # fmt: skip


def _zone_outcome(zone: str, reports: tuple[WorkloadReport, ...]) -> ZoneOutcome:
    def name(r: WorkloadReport) -> str:
        return f"{r.namespace}/{r.kind}/{r.name}"

    live = [r for r in reports if r.ready is not None and r.ready.total > 0]
    return ZoneOutcome(
        zone=zone,
        down=tuple(name(r) for r in live if r.zone_loss.get(zone) == 0),
        one_left=tuple(name(r) for r in live if r.zone_loss.get(zone) == 1),
    )
