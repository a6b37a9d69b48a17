"""`explain SITE` (core/judgement/explain.py, remedies.py, observed/sites.py and the text): why a
site has its phase, point by point, each with a fix, on statuses the core itself decides."""

import json
import typing
from datetime import timedelta
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from spofless.audit import explain as render
from spofless.core.judgement import explain, remedies
from spofless.core.model.status import Cause, Scope
from spofless.core.observed.sites import site_from
from spofless.core.site.decision import decide

from .builders import T0, site, world

ZONES = {"zone-a": 3, "zone-b": 3, "zone-c": 3}
EVEN = {"zone-a": 2, "zone-b": 2, "zone-c": 2}
GENERIC = remedies.for_finding("NoSuchScope", "x", "site")


def body(status: dict[str, Any], spec: dict[str, Any] | None = None, generation: int = 1) -> dict[str, Any]:
    return {"metadata": {"namespace": "web", "name": "shop", "generation": generation},
            "spec": {"replicas": 6, **(spec or {})}, "status": status}  # fmt: skip


def decided(spec: dict[str, Any], *steps: tuple[dict[str, int], tuple[str, ...]]) -> dict[str, Any]:
    """The status the core writes after the site goes through `steps` (ready pods, lost zones), 5 s apart."""
    status = decide(site(spec), world(ZONES, EVEN), T0).status
    for i, (ready, lost) in enumerate(steps, 1):
        observed = world(ZONES, ready, replicas=EVEN, not_ready=lost)
        status = decide(site(spec, status), observed, T0 + timedelta(seconds=5 * i)).status
    return status


def points(answer: explain.Explanation) -> list[tuple[str, str]]:
    return [(p.severity, p.title) for p in answer.points]


def test_a_redundant_site_has_nothing_to_fix() -> None:
    probed = {"containers": [{"name": "web", "image": "nginx", "readinessProbe": {"httpGet": {"port": 8080}}}]}
    answer = explain.explain(site_from(body(decided({"replicas": 6, "template": {"spec": probed}}))))
    assert (answer.phase, points(answer)) == ("Redundant", [("Info", "no single point of failure")])
    assert answer.points[0].fix == "Nothing to do."
    assert [z.zone for z in answer.zone_loss] == ["zone-a", "zone-b", "zone-c"]
    assert answer.zone_loss[0].text == "4 ready replica(s) left in 2 zone(s)"


def test_a_lost_zone_explains_degraded_and_says_what_spofless_does_and_what_to_do() -> None:
    status = decided({"replicas": 6}, ({"zone-a": 2, "zone-c": 2}, ("zone-b",)))
    answer = explain.explain(site_from(body(status)))
    assert answer.phase == "Degraded"
    (zone,) = [p for p in answer.points if p.title.startswith("zone ")]
    assert zone.title == "zone zone-b out of service (ZoneLost)"
    assert "moved its share to the other zones" in zone.fix
    assert "kubectl get nodes -l topology.kubernetes.io/zone=zone-b" in zone.fix


def test_a_pod_short_with_every_zone_in_service_says_which_count_is_short() -> None:
    status = decided({"replicas": 6}, ({"zone-a": 2, "zone-b": 2, "zone-c": 1}, ()))
    answer = explain.explain(site_from(body(status)))
    assert answer.phase == "Degraded"
    assert ("Info", "replicas short") in points(answer)
    assert next(p for p in answer.points if p.title == "replicas short").detail == "5 of 6 replicas ready"


def test_one_zone_left_is_at_risk_with_the_spof_first() -> None:
    status = decided({"replicas": 6}, ({"zone-a": 2}, ("zone-b", "zone-c")))
    answer = explain.explain(site_from(body(status)))
    assert answer.phase == "AtRisk"
    assert answer.points[0].severity == "SPOF"
    assert answer.points[0].title.startswith("Zone ")
    assert answer.points[0].fix == remedies.for_finding("Zone", "zone-a", "site", "shop")


@pytest.mark.parametrize(
    ("spec", "reason", "words"),
    [({"zones": ["zone-a", "zone-x"]}, "UnknownZone", "spec.zones"), ({"topologyKey": "example.com/rack"}, "NoZones",
     "spec.topologyKey")],
)  # fmt: skip
def test_an_invalid_spec_comes_first_with_its_fix(spec: dict[str, Any], reason: str, words: str) -> None:
    steady = decided({"replicas": 6})
    status = decide(site({"replicas": 6, **spec}, steady), world(ZONES, EVEN), T0 + timedelta(seconds=5)).status
    answer = explain.explain(site_from(body(status, spec)))
    assert answer.phase == "Invalid"
    first = answer.points[0]
    assert (first.severity, first.title) == ("Error", f"Reconciled=False ({reason})")
    assert words in first.fix


def test_a_site_no_operator_has_judged_says_so() -> None:
    answer = explain.explain(site_from({"metadata": {"namespace": "web", "name": "shop"}, "spec": {}}))
    assert (answer.phase, points(answer)) == ("Unknown", [("Warning", "no status")])


def test_a_warning_alone_is_explained_without_calling_the_site_clean() -> None:
    answer = explain.explain(site_from(body(decided({"replicas": 6}))))  # no readiness probe
    assert (answer.phase, points(answer)) == ("Redundant", [("Warning", "Readiness web")])
    assert "readinessProbe" in answer.points[0].fix


def test_a_status_behind_the_spec_says_so() -> None:
    answer = explain.explain(site_from(body(decided({"replicas": 6}), generation=2)))
    assert ("Info", "status behind the spec") in points(answer)


def test_entries_another_version_wrote_are_read_item_by_item() -> None:
    status = decided({"replicas": 6}, ({"zone-a": 2}, ("zone-b", "zone-c")))
    status["singlePointsOfFailure"][0]["since"] = "2026-11-27T12:00:00Z"  # a field this version does not know
    status["singlePointsOfFailure"].append({"scope": "Zone"})  # an entry it cannot read
    record = site_from(body(status))
    assert len(record.findings) == len(status["singlePointsOfFailure"]) - 1
    assert record.findings[0].scope == status["singlePointsOfFailure"][0]["scope"]


@pytest.mark.parametrize("scope", typing.get_args(Scope))
def test_every_scope_of_a_site_finding_has_its_own_fix(scope: str) -> None:
    assert remedies.for_finding(scope, "x", "site") != GENERIC


@pytest.mark.parametrize(
    "reason", ["InvalidSpec", "UnknownZone", "NoZones", "ApplyRefused", "ApplyFailed", "InternalError"]
)
def test_every_reason_the_core_gives_for_an_unreconciled_site_has_its_own_fix(reason: str) -> None:
    assert remedies.for_reconciled(reason) != remedies.GENERIC_RECONCILED


@pytest.mark.parametrize("cause", typing.get_args(Cause))
def test_every_cause_of_a_zone_out_of_service_has_its_own_text(cause: str) -> None:
    assert remedies.for_zone(cause, "z", "k") != remedies.GENERIC_ZONE.replace("{zone}", "z").replace("{cause}", cause)


@pytest.mark.parametrize("scope", ["Replica", "Zone", "Node", "Service", "Topology", "DisruptionBudget", "Permission"])
def test_every_scope_of_an_audit_finding_has_its_own_fix(scope: str) -> None:
    assert remedies.for_finding(scope, "x", "workload") != GENERIC


@given(
    st.lists(
        st.fixed_dictionaries({"scope": st.sampled_from(typing.get_args(Scope)), "name": st.text(min_size=1),
                               "severity": st.sampled_from(["SPOF", "Warning"]), "message": st.text()}),
        max_size=6,
    ),
    st.sampled_from(["Redundant", "Degraded", "AtRisk", "Invalid", "Pending"]),
)  # fmt: skip
def test_every_finding_is_a_point_with_a_fix_spofs_before_warnings(found: list[dict[str, Any]], phase: str) -> None:
    answer = explain.explain(site_from(body({"phase": phase, "singlePointsOfFailure": found})))
    mine = [p for p in answer.points if p.severity in ("SPOF", "Warning") and p.title != "no status"]
    assert sorted(p.detail for p in mine) == sorted(f["message"] for f in found)
    assert all(p.fix for p in answer.points)
    severities = [p.severity for p in answer.points]
    assert severities == sorted(severities, key=["Error", "SPOF", "Warning", "Info"].index)


def test_the_text_numbers_each_point_with_why_and_fix() -> None:
    status = decided({"replicas": 6}, ({"zone-a": 2}, ("zone-b", "zone-c")))
    answer = explain.explain(site_from(body(status)))
    text = render.as_text(answer)
    assert text.startswith("web/shop: AtRisk: a single point of failure (below), or no ready replica at all\n")
    assert "\n1. SPOF Zone " in text
    assert "\n    why   " in text and "\n    fix   " in text
    assert "IF A ZONE IS LOST" in text
    assert all(len(line) <= render.WIDTH + 10 for line in text.splitlines() if line.startswith("    "))
    data = json.loads(render.as_json(answer))
    assert data["phase"] == "AtRisk" and data["points"][0]["severity"] == "SPOF"
