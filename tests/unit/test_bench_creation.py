from __future__ import annotations

from typing import Any

from bench.creation import CreationView


def _deployment(name: str, site: str, replicas: int, ready: int) -> dict[str, Any]:
    return {"metadata": {"name": name, "labels": {"spofless.dev/site": site}},
            "spec": {"replicas": replicas}, "status": {"readyReplicas": ready}}  # fmt: skip


def _slice(name: str, service: str, ready: int, not_ready: int = 0) -> dict[str, Any]:
    endpoints = [{"conditions": {"ready": True}}] * ready + [{"conditions": {"ready": False}}] * not_ready
    return {"metadata": {"name": name, "labels": {"kubernetes.io/service-name": service}}, "endpoints": endpoints}


def test_a_site_is_full_when_every_zone_has_all_its_pods_ready() -> None:
    view = CreationView(zones=2)
    view.deployment("ADDED", _deployment("a-1", "a", 1, 1))
    view.deployment("ADDED", _deployment("a-2", "a", 1, 0))
    view.deployment("ADDED", _deployment("b-1", "b", 1, 1))  # its second zone not made yet
    assert (view.ready_pods(), view.full_sites()) == (2, 0)
    view.deployment("MODIFIED", _deployment("a-2", "a", 1, 1))
    assert (view.ready_pods(), view.full_sites()) == (3, 1)
    view.deployment("DELETED", _deployment("a-2", "a", 1, 1))
    assert view.full_sites() == 0


def test_served_counts_ready_endpoints_over_each_services_slices() -> None:
    view = CreationView(zones=3)
    view.endpoint_slice("ADDED", _slice("a-x", "a", 2, not_ready=1))
    view.endpoint_slice("ADDED", _slice("b-x", "b", 3))
    assert not view.served(services=2, endpoints=3)
    view.endpoint_slice("ADDED", _slice("a-y", "a", 1))
    assert view.served(services=2, endpoints=3)
    assert not view.served(services=3, endpoints=3)


def test_a_site_counts_as_redundant_only_for_its_current_generation() -> None:
    view = CreationView(zones=3)
    site = {"metadata": {"name": "a", "generation": 2}, "status": {"observedGeneration": 1, "phase": "Redundant"}}
    view.site("ADDED", site)
    assert view.redundant() == 0
    view.site("MODIFIED", {**site, "status": {"observedGeneration": 2, "phase": "Redundant"}})
    assert view.redundant() == 1
