"""The objects a site should own: one Deployment per zone, one PodDisruptionBudget and one Service for the site.

Each manifest carries only the fields spofless decides, so server-side apply leaves every
other field (defaults, other managers' fields) alone.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from typing import Any

from spofless.core.model import kinds, names, template
from spofless.core.model.spec import ResilientSiteSpec

Manifest = dict[str, Any]


@dataclass(frozen=True)
class Owner:
    """The site as owner of its children."""

    name: str
    namespace: str
    uid: str

    def reference(self) -> dict[str, Any]:
        return {
            "apiVersion": kinds.SITE.api_version,
            "kind": kinds.SITE.kind,
            "name": self.name,
            "uid": self.uid,
            "controller": True,
            "blockOwnerDeletion": True,
        }


def _metadata(owner: Owner, name: str, labels: dict[str, str]) -> dict[str, Any]:
    return {
        "name": name,
        "namespace": owner.namespace,
        "labels": labels,
        "ownerReferences": [owner.reference()],
    }


def _zone_affinity(affinity: dict[str, Any], topology_key: str, zone: str) -> dict[str, Any]:
    """The user's affinity with this zone's requirement ANDed into every required node term."""
    requirement = {"key": topology_key, "operator": "In", "values": [zone]}
    merged = copy.deepcopy(affinity)
    required = merged.setdefault("nodeAffinity", {}).setdefault(
        "requiredDuringSchedulingIgnoredDuringExecution", {"nodeSelectorTerms": []}
    )
    terms = required.setdefault("nodeSelectorTerms", [])
    if not terms:
        terms.append({})
    for term in terms:
        term.setdefault("matchExpressions", []).append(requirement)
    return merged


def pod_template(
    owner: Owner, spec: ResilientSiteSpec, zone: str, source: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    """The user's template (`source`, default the spec's), pinned to the zone and spread over the
    zone's nodes; every pod says which revision of the site's template made it."""
    source = spec.template if source is None else source
    out = copy.deepcopy(dict(source))
    metadata = out.setdefault("metadata", {})
    metadata["labels"] = {**(metadata.get("labels") or {}), **names.zone_labels(owner.name, zone)}
    metadata["annotations"] = {
        **(metadata.get("annotations") or {}),
        names.ANNOTATION_REVISION: template.revision(source),
    }
    pod = out.setdefault("spec", {})
    pod["affinity"] = _zone_affinity(pod.get("affinity") or {}, spec.topology_key, zone)
    pod["topologySpreadConstraints"] = [
        *(pod.get("topologySpreadConstraints") or []),
        {
            "maxSkew": 1,
            "topologyKey": "kubernetes.io/hostname",
            "whenUnsatisfiable": "DoNotSchedule",
            # Dead or cordoned nodes must not count as empty slots a pod has to wait for.
            "nodeTaintsPolicy": "Honor",
            "labelSelector": {"matchLabels": names.zone_selector(owner.name, zone)},
            "matchLabelKeys": ["pod-template-hash"],
        },
    ]
    return out


# New pods first, old ones go only once those are ready: a zone being rolled out never has fewer
# ready pods than it is asked for, and a template that never gets ready leaves the old pods serving.
SURGE_ONLY = {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": "25%", "maxUnavailable": 0}}


@dataclass(frozen=True)
class Running:
    """What a zone's Deployment runs: `source`, the site template (default the spec's), and the
    revision a halted rollout took it back from, if one did."""

    source: Mapping[str, Any] | None = None
    rolled_back_from: str | None = None


def deployment(
    owner: Owner, spec: ResilientSiteSpec, zone: str, replicas: int, running: Running | None = None
) -> Manifest:
    """The zone's Deployment. The template it was made from is kept in an annotation, so a later
    pass can keep the zone on it or roll another zone back to it."""
    running = running or Running()
    source = spec.template if running.source is None else running.source
    rolled_back_from = running.rolled_back_from
    metadata = _metadata(owner, names.child_name(owner.name, zone), names.zone_labels(owner.name, zone))
    metadata["annotations"] = {names.ANNOTATION_TEMPLATE: json.dumps(source, sort_keys=True, separators=(",", ":"))}
    if rolled_back_from is not None:
        metadata["annotations"][names.ANNOTATION_ROLLED_BACK] = rolled_back_from
    return {
        "apiVersion": kinds.DEPLOYMENT.api_version,
        "kind": kinds.DEPLOYMENT.kind,
        "metadata": metadata,
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": names.zone_selector(owner.name, zone)},
            "strategy": copy.deepcopy(SURGE_ONLY),
            "template": pod_template(owner, spec, zone, source),
        },
    }


def disruption_budget(owner: Owner, spec: ResilientSiteSpec, max_unavailable: int | None = None) -> Manifest:
    """One budget over the site's pods in every zone. The eviction API takes a disruption off the
    budget's status with an optimistic-concurrency update, so two drains in two zones cannot both
    pass it: while any zone is short (a pod evicted, a zone lost), no other zone loses a pod."""
    return {
        "apiVersion": kinds.DISRUPTION_BUDGET.api_version,
        "kind": kinds.DISRUPTION_BUDGET.kind,
        "metadata": _metadata(owner, owner.name, names.site_labels(owner.name)),
        "spec": {
            "maxUnavailable": spec.disruption_budget.max_unavailable if max_unavailable is None else max_unavailable,
            "selector": {"matchLabels": {names.LABEL_SITE: owner.name}},
            # A pod on a dead node is not ready; it must never block draining that node.
            "unhealthyPodEvictionPolicy": "AlwaysAllow",
        },
    }


def _service_ports(spec: ResilientSiteSpec) -> list[dict[str, Any]]:
    if spec.service.ports:
        return [
            {
                **({"name": p.name} if p.name else {}),
                "port": p.port,
                "targetPort": p.target_port if p.target_port is not None else p.port,
                "protocol": p.protocol,
            }
            for p in spec.service.ports
        ]
    ports = []
    for container in spec.template.get("spec", {}).get("containers", []):
        for cp in container.get("ports") or []:
            if isinstance(cp.get("containerPort"), int):
                port = {"port": cp["containerPort"], "targetPort": cp["containerPort"]}
                port["protocol"] = cp.get("protocol", "TCP")
                if cp.get("name"):
                    port["name"] = cp["name"]
                ports.append(port)
    if len(ports) > 1:  # a multi-port Service needs every port named
        for i, port in enumerate(ports):
            port.setdefault("name", f"port-{i}")
    return ports


def service(owner: Owner, spec: ResilientSiteSpec, traffic: str | None = None, lift: bool = False) -> Manifest:
    """traffic: the trafficDistribution to set. lift: the Service has one of ours to remove; an
    explicit null makes the drift check see it (a field merely left out would look covered)."""
    ports = _service_ports(spec)
    body: dict[str, Any] = {"selector": names.site_labels(owner.name), "type": spec.service.type}
    if traffic is not None:
        body["trafficDistribution"] = traffic
    elif lift:
        body["trafficDistribution"] = None
    if ports:
        body["ports"] = ports
    else:
        body["clusterIP"] = "None"  # no port to expose: a headless Service still lists endpoints
    return {
        "apiVersion": kinds.SERVICE.api_version,
        "kind": kinds.SERVICE.kind,
        "metadata": _metadata(owner, owner.name, names.site_labels(owner.name)),
        "spec": body,
    }


@dataclass(frozen=True)
class Wanted:
    """What this pass wants of the site's children.

    replicas: per zone. traffic: the Service's trafficDistribution to set; lift: remove ours.
    sources: the template each zone runs (default the spec's); rolled_back: zone -> the revision a halt
    took it back from. scale_only: zones whose Deployment is left as it is (its template unknown to
    spofless): only its replicas are written, apart from this list. budget: the budget's
    maxUnavailable now (default the spec's)."""

    replicas: Mapping[str, int]
    traffic: str | None = None
    lift: bool = False
    sources: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    rolled_back: Mapping[str, str] = field(default_factory=dict)
    scale_only: Collection[str] = ()
    budget: int | None = None


def children(owner: Owner, spec: ResilientSiteSpec, wanted: Wanted) -> list[Manifest]:
    """Every object the site should own, in the order to apply them: the pods' Deployments first,
    so a Service the cluster cannot make (a full IP range) does not keep them from running."""
    out = []
    for zone in sorted(wanted.replicas):
        if zone not in wanted.scale_only:
            running = Running(wanted.sources.get(zone), wanted.rolled_back.get(zone))
            out.append(deployment(owner, spec, zone, wanted.replicas[zone], running))
    budget = disruption_budget(owner, spec, wanted.budget)
    return [*out, budget, service(owner, spec, wanted.traffic, wanted.lift)]
