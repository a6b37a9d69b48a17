"""The Argo CD health check (manifests/gitops/argocd-health.lua) run as Argo CD runs it: Lua 5.1 (Argo
CD's gopher-lua speaks 5.1), the site as the global `obj`, the returned table read back."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from lupa import lua51

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "manifests" / "gitops" / "argocd-health.lua"
STATUSES = Path(__file__).with_name("statuses.yaml")


def health(site: dict[str, Any]) -> tuple[str, str]:
    """(status, message) the health check gives the site."""
    lua = lua51.LuaRuntime()
    lua.globals().obj = lua.table_from(site, recursive=True)
    result = lua.execute(SCRIPT.read_text())
    return str(result["status"]), str(result["message"])


def contract(site: dict[str, Any]) -> str:
    """The health docs/operations/gitops.md promises, in its table's order; the fixtures' expectations
    are reviewed against it when they are captured."""
    status = site.get("status")
    generation = site.get("metadata", {}).get("generation")
    if status is None:
        return "Progressing"
    if generation is not None and (status.get("observedGeneration") or 0) < generation:
        return "Progressing"

    def holds(kind: str) -> bool:
        c = next((c for c in status.get("conditions") or [] if c.get("type") == kind), None)
        stale = c is not None and generation is not None and (c.get("observedGeneration") or generation) < generation
        return c is not None and c.get("status") == "True" and not stale

    ready = next((c.get("status") for c in status.get("conditions") or [] if c.get("type") == "Ready"), None)
    if holds("Stalled"):
        return "Degraded"
    if holds("Reconciling"):
        return "Progressing"
    if holds("RolloutHalted"):
        return "Degraded"
    if status.get("phase") in ("Invalid", "AtRisk", "Degraded"):
        return "Degraded"
    rolling = (status.get("rollout") or {}).get("phase") in ("Progressing", "Baking", "Waiting")
    if status.get("phase") == "Pending" or ready == "False" or rolling:
        return "Progressing"
    if status.get("phase") == "Redundant" or ready == "True":
        return "Healthy"
    return "Progressing"
