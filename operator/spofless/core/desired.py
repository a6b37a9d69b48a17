"""The objects a site should own: one Deployment and one PodDisruptionBudget per zone, one Service.

Each manifest carries only the fields spofless decides, so server-side apply leaves every
other field (defaults, other managers' fields) alone.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any

from spofless.core import kinds, naming
from spofless.core.api import ResilientSiteSpec

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


def pod_template(owner: Owner, spec: ResilientSiteSpec, zone: str) -> dict[str, Any]:
    """The user's template, pinned to the zone and spread over the zone's nodes."""
    template = copy.deepcopy(spec.template)
    metadata = template.setdefault("metadata", {})
    metadata["labels"] = {**(metadata.get("labels") or {}), **naming.zone_labels(owner.name, zone)}
    pod = template.setdefault("spec", {})
    pod["affinity"] = _zone_affinity(pod.get("affinity") or {}, spec.topology_key, zone)
    pod["topologySpreadConstraints"] = [
        *(pod.get("topologySpreadConstraints") or []),
        {
            "maxSkew": 1,
            "topologyKey": "kubernetes.io/hostname",
            "whenUnsatisfiable": "DoNotSchedule",
            # Dead or cordoned nodes must not count as empty slots a pod has to wait for.
            "nodeTaintsPolicy": "Honor",
            "labelSelector": {"matchLabels": naming.zone_selector(owner.name, zone)},
            "matchLabelKeys": ["pod-template-hash"],
        },
    ]
    return template


def deployment(owner: Owner, spec: ResilientSiteSpec, zone: str, replicas: int) -> Manifest:
    return {
        "apiVersion": kinds.DEPLOYMENT.api_version,
        "kind": kinds.DEPLOYMENT.kind,
        "metadata": _metadata(owner, naming.child_name(owner.name, zone), naming.zone_labels(owner.name, zone)),
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": naming.zone_selector(owner.name, zone)},
            "template": pod_template(owner, spec, zone),
        },
    }


def disruption_budget(owner: Owner, spec: ResilientSiteSpec, zone: str) -> Manifest:
    return {
        "apiVersion": kinds.DISRUPTION_BUDGET.api_version,
        "kind": kinds.DISRUPTION_BUDGET.kind,
        "metadata": _metadata(owner, naming.child_name(owner.name, zone), naming.zone_labels(owner.name, zone)),
        "spec": {
            "maxUnavailable": spec.disruption_budget.max_unavailable,
            "selector": {"matchLabels": naming.zone_selector(owner.name, zone)},
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
    body: dict[str, Any] = {"selector": naming.site_labels(owner.name), "type": spec.service.type}
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
        "metadata": _metadata(owner, owner.name, naming.site_labels(owner.name)),
        "spec": body,
    }


def children(
    owner: Owner, spec: ResilientSiteSpec, replicas: dict[str, int], traffic: str | None = None, lift: bool = False
) -> list[Manifest]:
    """Every object the site should own, in the order to apply them: the pods' Deployments first,
    so a Service the cluster cannot make (a full IP range) does not keep them from running."""
    out = []
    for zone in sorted(replicas):
        out.append(deployment(owner, spec, zone, replicas[zone]))
        out.append(disruption_budget(owner, spec, zone))
    return [*out, service(owner, spec, traffic, lift)]
