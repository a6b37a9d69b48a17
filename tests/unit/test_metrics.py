"""The per-site gauges the alerts and the dashboard read, from statuses the core really decides."""

from __future__ import annotations

from typing import Any

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.parser import text_string_to_metric_families

from spofless.core.site import decision
from spofless.operator.metrics import CONDITION_TYPES, StatusCollector

from .builders import T0, site, world

ZONES = {"zone-a": 3, "zone-b": 3, "zone-c": 3}


def scrape(statuses: dict[tuple[str, str], dict[str, Any]]) -> dict[str, dict[tuple[tuple[str, str], ...], float]]:
    """What a scrape shows: metric name -> {sorted labels: value}."""
    collector = StatusCollector()
    for key, status in statuses.items():
        collector.record(key, status)
    registry = CollectorRegistry()
    registry.register(collector)
    out: dict[str, dict[tuple[tuple[str, str], ...], float]] = {}
    for family in text_string_to_metric_families(generate_latest(registry).decode()):
        for sample in family.samples:
            out.setdefault(sample.name, {})[tuple(sorted(sample.labels.items()))] = sample.value
    return out


def labels(**kv: str) -> tuple[tuple[str, str], ...]:
    return tuple(sorted(kv.items()))


def decided(ready: dict[str, int], not_ready: tuple[str, ...] = (), replicas: int = 3) -> dict[str, Any]:
    observed = world(ZONES, ready, not_ready=not_ready)
    return decision.decide(site({"replicas": replicas}), observed, T0).status


def test_a_redundant_site_has_its_phase_no_spof_and_no_since() -> None:
    got = scrape({("web", "shop"): decided({"zone-a": 1, "zone-b": 1, "zone-c": 1})})
    shop = labels(namespace="web", site="shop")
    assert got["spofless_site_phase"] == {labels(namespace="web", site="shop", phase="Redundant"): 1}
    assert got["spofless_site_spof"] == {shop: 0}
    assert "spofless_site_spof_since_timestamp_seconds" not in got
    conditions = {dict(k)["type"]: v for k, v in got["spofless_site_condition"].items()}
    expected = {
        "Ready": 1,
        "Redundant": 1,
        "FailoverActive": 0,
        "CapacityShort": 0,
        "RolloutHalted": 0,
        "Reconciled": 1,
    }
    assert expected.items() <= conditions.items()
    assert set(conditions) <= set(CONDITION_TYPES), "only the conditions the alerts and the dashboard read"


def test_a_spof_site_says_since_when_from_its_redundant_condition() -> None:
    status = decided({"zone-a": 3}, not_ready=("zone-b", "zone-c"))
    redundant = next(c for c in status["conditions"] if c["type"] == "Redundant")
    assert redundant["status"] == "False"
    got = scrape({("web", "shop"): status})
    shop = labels(namespace="web", site="shop")
    assert got["spofless_site_spof"] == {shop: 1}
    assert got["spofless_site_spof_since_timestamp_seconds"] == {shop: T0.timestamp()}
    assert got["spofless_site_phase"] == {labels(namespace="web", site="shop", phase="AtRisk"): 1}


def test_one_series_set_per_site_and_an_unreadable_time_is_left_out() -> None:
    spof = {
        "phase": "AtRisk",
        "singlePointsOfFailure": [{"scope": "Replica", "name": "x", "severity": "SPOF", "message": ""}],
        "conditions": [{"type": "Redundant", "status": "False", "lastTransitionTime": "soon"}],
    }
    got = scrape({("a", "x"): spof, ("b", "y"): {"phase": "Pending"}, ("b", "z"): {"phase": "Degraded"}})
    assert sorted(dict(k)["site"] for k in got["spofless_site_phase"]) == ["x", "y", "z"]
    assert "spofless_site_spof_since_timestamp_seconds" not in got
    assert got["spofless_site_spof"] == {
        labels(namespace="a", site="x"): 1,
        labels(namespace="b", site="y"): 0,
        labels(namespace="b", site="z"): 0,
    }
