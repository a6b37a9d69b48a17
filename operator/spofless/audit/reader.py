"""Reads what the audit needs, list by list, reduced to the core's records page by page. A list the
credentials may not make is noted as missing (with what the report lacks because of it), not fatal."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from kubernetes_asyncio.client.exceptions import ApiException

from spofless.core.model import kinds
from spofless.core.observed import inventory, parse
from spofless.core.observed.records import Workload
from spofless.core.observed.sites import SiteRecord, site_from
from spofless.kube import Kube, path

T = TypeVar("T")


@dataclass(frozen=True)
class Kind:
    prefix: str  # API path prefix
    plural: str
    group: str  # as RBAC names it ("" for the core group)
    effect: str  # what the report lacks without it

    @property
    def resource(self) -> str:
        return f"{self.plural}.{self.group}" if self.group else self.plural


NODES = Kind("/api/v1", "nodes", "", "zones and node readiness unknown: placement is per node only")
PODS = Kind("/api/v1", "pods", "", "live placement unknown: ready pods per zone and node not shown")
DEPLOYMENTS = Kind("/apis/apps/v1", "deployments", "apps", "Deployments not audited")
STATEFULSETS = Kind("/apis/apps/v1", "statefulsets", "apps", "StatefulSets not audited")
REPLICASETS = Kind("/apis/apps/v1", "replicasets", "apps",
                   "ReplicaSets without an owner not audited; Deployments' pods matched by labels")  # fmt: skip
BUDGETS = Kind("/apis/policy/v1", "poddisruptionbudgets", "policy", "PodDisruptionBudget coverage unknown")
SERVICES = Kind("/api/v1", "services", "", "Services not audited")
SLICES = Kind("/apis/discovery.k8s.io/v1", "endpointslices", "discovery.k8s.io", "Services' endpoints unknown")
SITES = Kind(f"/apis/{kinds.SITE.group}/{kinds.SITE.version}", kinds.SITE.plural, kinds.SITE.group,
             "ResilientSites' own what-if (dependencies, room for moved replicas) not shown")  # fmt: skip


@dataclass
class Reader:
    kube: Kube
    namespace: str | None  # None: every namespace
    label_selector: str | None
    topology_key: str

    def _url(self, kind: Kind) -> str:
        if self.namespace is None or kind is NODES:
            return f"{kind.prefix}/{kind.plural}"
        return f"{kind.prefix}/namespaces/{self.namespace}/{kind.plural}"

    async def _list(
        self, kind: Kind, reduce: Callable[[dict[str, Any]], list[T]], missing: list[inventory.Missing],
        selector: str | None = None,
    ) -> list[T] | None:  # fmt: skip
        out: list[T] = []
        try:
            async for page in self.kube.list_pages(self._url(kind), selector):
                for item in page:
                    out.extend(reduce(item))
        except ApiException as err:
            if err.status != 403:
                raise
            where = "cluster-wide" if self.namespace is None or kind is NODES else self.namespace
            missing.append(inventory.Missing("list", kind.resource, where, kind.effect))
            return None
        return out

    async def sites(self, missing: list[inventory.Missing]) -> list[SiteRecord]:
        """The ResilientSites in scope; none where spofless is not installed (no such resource)."""
        try:
            return await self._list(SITES, lambda b: [site_from(b)], missing) or []
        except ApiException as err:
            if err.status == 404:
                return []
            raise

    async def inventory(self) -> tuple[inventory.Inventory, set[tuple[str, str, str]] | None]:
        """Everything the audit reads, and (with a label selector) which workloads and Services it chose."""
        missing: list[inventory.Missing] = []
        sel = self.label_selector
        nodes = await self._list(NODES, lambda b: [parse.node_from(b)], missing)
        pods = await self._list(PODS, lambda b: [parse.pod_from(b)], missing)
        workloads: list[Workload] = []
        for kind, name in ((DEPLOYMENTS, "Deployment"), (STATEFULSETS, "StatefulSet")):
            read = await self._list(kind, lambda b, n=name: [parse.workload_from(b, n)], missing, sel)  # type: ignore[misc]
            workloads.extend(read or [])
        # Every ReplicaSet ties a Deployment to its pods; the selector only picks ownerless ones to report.
        replicasets = await self._list(REPLICASETS, lambda b: [parse.workload_from(b, "ReplicaSet")], missing)
        workloads.extend(replicasets or [])
        budgets = await self._list(BUDGETS, lambda b: [parse.budget_from(b)], missing)
        services = await self._list(SERVICES, lambda b: [parse.service_from(b)], missing, sel)
        endpoints = await self._list(SLICES, lambda b: [s] if (s := parse.slice_from(b)) else [], missing)
        chosen: set[tuple[str, str, str]] | None = None
        if sel:
            chosen = {(w.kind, w.namespace, w.name) for w in workloads if w.kind != "ReplicaSet"}
            chosen |= {("Service", s.namespace, s.name) for s in services or []}
            if replicasets is not None:
                picked = await self._list(REPLICASETS, lambda b: [parse.workload_from(b, "ReplicaSet")], [], sel)
                chosen |= {(w.kind, w.namespace, w.name) for w in picked or []}
        inv = inventory.Inventory(
            nodes, pods, workloads, budgets, services, endpoints, missing, replicasets is not None, self.topology_key
        )
        return inv, chosen


async def read_site(client: Kube, namespace: str, name: str) -> SiteRecord | None:
    """One ResilientSite; None when there is none of that name (or spofless is not installed)."""
    try:
        body = await client.call("GET", path(kinds.SITE, namespace, name))
    except ApiException as err:
        if err.status == 404:
            return None
        raise
    return site_from(body)
