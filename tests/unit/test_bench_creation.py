from __future__ import annotations

from typing import Any

from bench.creation import CreationView


def _slice(name: str, service: str, ready: int, not_ready: int = 0) -> dict[str, Any]:
    endpoints = [{"conditions": {"ready": True}}] * ready + [{"conditions": {"ready": False}}] * not_ready
    return {"metadata": {"name": name, "labels": {"kubernetes.io/service-name": service}}, "endpoints": endpoints}


def test_ready_pods_and_served_services_count_ready_endpoints_over_each_services_slices() -> None:
    view = CreationView()
    view.endpoint_slice("ADDED", _slice("a-x", "a", 2, not_ready=1))
    view.endpoint_slice("ADDED", _slice("b-x", "b", 3))
    assert (view.ready_pods(), view.served(3)) == (5, 1)
    view.endpoint_slice("ADDED", _slice("a-y", "a", 1))
    assert (view.ready_pods(), view.served(3)) == (6, 2)
    view.endpoint_slice("DELETED", _slice("b-x", "b", 3))
    assert (view.ready_pods(), view.served(3)) == (3, 1)


def test_a_site_counts_as_redundant_only_for_its_current_generation() -> None:
    view = CreationView()
    site = {"metadata": {"name": "a", "generation": 2}, "status": {"observedGeneration": 1, "phase": "Redundant"}}
    view.site("ADDED", site)
    assert view.redundant() == 0
    view.site("MODIFIED", {**site, "status": {"observedGeneration": 2, "phase": "Redundant"}})
    assert view.redundant() == 1
