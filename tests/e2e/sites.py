"""ResilientSite manifests and the checks the scenarios share."""

from __future__ import annotations

import os
from typing import Any

from .cluster import get, status, wait_for

# KWOK never pulls the image; on kind, hack/kind-e2e.sh names the test HTTP server image it loaded.
SITE_IMAGE = os.environ.get("SPOFLESS_E2E_SITE_IMAGE", "nginx:1.27")
TEMPLATE: dict[str, Any] = {
    "metadata": {"labels": {"app": "web"}},
    "spec": {"containers": [{"name": "web", "image": SITE_IMAGE, "ports": [{"containerPort": 8080}]}]},
}


def manifest(name: str, namespace: str, **spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": "spofless.dev/v1alpha1",
        "kind": "ResilientSite",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {"template": TEMPLATE, **spec},
    }


def wait_phase(name: str, namespace: str, phase: str, timeout: float = 90, **extra: Any) -> dict[str, Any]:
    """Waits until the status has `phase` and the given top-level values, for the current generation.
    A value may be a predicate over the field (for what settles after the phase: counts, rows), so
    that everything a scenario asserts of one status is waited for together rather than read once."""

    def holds(field: str, want: Any, st: dict[str, Any]) -> bool:
        return bool(want(st.get(field))) if callable(want) else st.get(field) == want

    def probe() -> dict[str, Any] | None:
        obj = get("resilientsite", name, namespace)
        st = obj.get("status") or {}
        current = st.get("observedGeneration") == obj["metadata"]["generation"]
        ok = current and st.get("phase") == phase and all(holds(k, v, st) for k, v in extra.items())
        return st if ok else None

    shown = {k: ("(a check)" if callable(v) else v) for k, v in extra.items()}
    return wait_for(f"site {namespace}/{name} phase {phase} {shown or ''}", probe, timeout)


def wait_rollout(name: str, namespace: str, phase: str, timeout: float = 120) -> dict[str, Any]:
    """Waits until the site's rollout section reports `phase` for the current generation."""

    def probe() -> dict[str, Any] | None:
        obj = get("resilientsite", name, namespace)
        st = obj.get("status") or {}
        current = st.get("observedGeneration") == obj["metadata"]["generation"]
        rollout = st.get("rollout") or {}
        return rollout if current and rollout.get("phase") == phase else None

    return wait_for(f"site {namespace}/{name} rollout {phase}", probe, timeout)


def deployments(namespace: str, site: str) -> dict[str, dict[str, Any]]:
    items = get("deployments", namespace=namespace, selector=f"spofless.dev/site={site}")
    return {d["metadata"]["labels"]["spofless.dev/zone"]: d for d in items}


def ready_pods(namespace: str, site: str) -> list[dict[str, Any]]:
    pods = get("pods", namespace=namespace, selector=f"spofless.dev/site={site}")
    return [
        p for p in pods
        if not p["metadata"].get("deletionTimestamp")
        and any(c["type"] == "Ready" and c["status"] == "True" for c in p.get("status", {}).get("conditions", []))
    ]  # fmt: skip


def ready_endpoints_in(namespace: str, service: str, zone: str) -> int:
    """Endpoints of `service` in `zone` that kube-proxy would send traffic to (ready, or not saying)."""
    slices = get("endpointslices", namespace=namespace, selector=f"kubernetes.io/service-name={service}")
    return sum(
        1 for s in slices for e in s.get("endpoints") or []
        if e.get("zone") == zone and (e.get("conditions") or {}).get("ready") is not False
    )  # fmt: skip


def replicas_by_zone(namespace: str, site: str) -> dict[str, int]:
    return {z: d["spec"]["replicas"] for z, d in deployments(namespace, site).items()}


def spofs(entries: list[dict[str, Any]] | None) -> set[tuple[str, str]]:
    """(scope, name) of each single point of failure in a status's singlePointsOfFailure (not its warnings)."""
    return {(f["scope"], f["name"]) for f in entries or [] if f.get("severity", "SPOF") == "SPOF"}


def findings(name: str, namespace: str) -> set[tuple[str, str]]:
    return spofs(status(name, namespace).get("singlePointsOfFailure"))
