"""The Argo CD health check for ResilientSite (manifests/gitops/argocd-health.lua), run in Lua 5.1 as
Argo CD runs it: on real sites the e2e suite saw (statuses.yaml), on kstatus shapes made from them,
and on every status the CRD's schema admits."""

from __future__ import annotations

import copy
from typing import Any

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from spofless.core.model.crd import openapi_schema
from spofless.core.model.status import ResilientSiteStatus

from ..unit.schema_strategy import from_schema
from .health import STATUSES, contract, health

CAPTURED: list[dict[str, Any]] = yaml.safe_load(STATUSES.read_text())
HEALTH = ("Healthy", "Progressing", "Degraded")


def sites(health: str) -> list[dict[str, Any]]:
    return [c["site"] for c in CAPTURED if c["expect"] == health]


def with_condition(site: dict[str, Any], kind: str, status: str, message: str) -> dict[str, Any]:
    """The site with one condition set (a copy), written for its current generation."""
    out = copy.deepcopy(site)
    generation = out["metadata"]["generation"]
    conditions = [c for c in out["status"].get("conditions", []) if c["type"] != kind]
    new = {"type": kind, "status": status, "reason": kind, "message": message, "observedGeneration": generation,
           "lastTransitionTime": "2026-12-05T04:00:00Z"}  # fmt: skip
    out["status"]["conditions"] = [*conditions, new]
    return out


def test_the_fixture_holds_real_sites_of_every_health_and_phase() -> None:
    assert {c["expect"] for c in CAPTURED} == set(HEALTH)
    phases = {(c["site"].get("status") or {}).get("phase") for c in CAPTURED}
    assert {"Redundant", "Degraded", "AtRisk", "Invalid", "Pending"} <= phases, phases
    assert all(c["captured_in"].startswith("tests/e2e/") for c in CAPTURED)


@pytest.mark.parametrize(
    "captured",
    CAPTURED,
    ids=[f"{i}-{c['expect']}-{(c['site'].get('status') or {}).get('phase')}" for i, c in enumerate(CAPTURED)],
)
def test_real_sites(captured: dict[str, Any]) -> None:
    status, message = health(captured["site"])
    assert status == captured["expect"], (captured["captured_in"], message)
    assert message


def test_an_at_risk_site_is_degraded_even_with_every_replica_ready() -> None:
    at_risk = [s for s in sites("Degraded") if s["status"]["phase"] == "AtRisk"]
    assert at_risk
    for site in at_risk:
        ready = with_condition(site, "Ready", "True", "all replicas ready")
        assert health(ready) == ("Degraded", f"AtRisk: {site['status']['message']}")


def test_a_status_older_than_the_spec_is_progressing_whatever_it_says() -> None:
    for site in sites("Healthy") + sites("Degraded"):
        newer = copy.deepcopy(site)
        newer["metadata"]["generation"] = site["status"]["observedGeneration"] + 1
        assert health(newer) == (
            "Progressing",
            f"Waiting for spofless to observe generation {newer['metadata']['generation']}",
        )


def test_stalled_is_degraded_and_reconciling_progressing_with_their_message() -> None:
    for site in sites("Healthy"):
        assert health(with_condition(site, "Stalled", "True", "the API server refuses the Service")) == (
            "Degraded",
            "the API server refuses the Service",
        )
        assert health(with_condition(site, "Reconciling", "True", "moving 2 replicas to zone-a")) == (
            "Progressing",
            "moving 2 replicas to zone-a",
        )
        assert health(with_condition(site, "Stalled", "False", "")) == health(site)


def test_a_condition_from_an_older_generation_does_not_count() -> None:
    for site in sites("Healthy"):
        stale = with_condition(site, "Stalled", "True", "old news")
        stale["status"]["conditions"][-1]["observedGeneration"] = site["metadata"]["generation"] - 1
        assert health(stale) == health(site)


def test_a_site_without_status_is_progressing() -> None:
    site = {k: v for k, v in CAPTURED[0]["site"].items() if k != "status"}
    assert health(site) == ("Progressing", "Waiting for spofless to report the site")


CONDITION_TYPES = ("Ready", "Redundant", "Reconciled", "Reconciling", "Stalled", "FailoverActive", "CapacityShort")


@st.composite
def any_site(draw: st.DrawFn) -> dict[str, Any]:
    """A site with any status the CRD's schema admits, its conditions of the types that matter."""
    status = draw(st.none() | from_schema(openapi_schema(ResilientSiteStatus)))
    generation = draw(st.integers(1, 3))
    if status is not None:
        conditions = st.fixed_dictionaries(
            {"type": st.sampled_from(CONDITION_TYPES), "status": st.sampled_from(["True", "False", "Unknown"])},
            optional={"observedGeneration": st.integers(1, 3), "message": st.text(max_size=8)},
        )
        status["conditions"] = draw(st.lists(conditions, max_size=4, unique_by=lambda c: c["type"]))
    site = {
        "apiVersion": "spofless.dev/v1alpha1",
        "kind": "ResilientSite",
        "metadata": {"name": "s", "generation": generation},
    }
    return site if status is None else {**site, "status": status}


@settings(max_examples=300, deadline=None)
@given(any_site())
def test_every_status_the_schema_admits_gets_the_documented_health(site: dict[str, Any]) -> None:
    status, message = health(site)
    assert status in HEALTH and message
    assert status == contract(site)
