"""spec.dependsOn: a dependency's single points of failure are the site's, in its verdict and its what-if."""

from dataclasses import replace
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from spofless.core.judgement import dependencies, rules
from spofless.core.model.spec import DependencySpec, ResilientSiteSpec
from spofless.core.observed import parse
from spofless.core.observed.records import Child, Endpoint, Observed, ObservedDependency, Service, Workload
from spofless.core.site.decision import decide
from spofless.operator import dependency_records

from .builders import T0, site, world

ZONES = {"zone-a": 3, "zone-b": 3, "zone-c": 3}
EVEN = {"zone-a": 2, "zone-b": 2, "zone-c": 2}
DB = Workload("StatefulSet", "data", "db", replicas=1, template_labels=frozenset({("app", "db"), ("tier", "data")}))


def db(endpoints: tuple[Endpoint, ...], namespace: str = "web", name: str = "db") -> ObservedDependency:
    service = Service(namespace, name, selector=(("app", "db"),))
    return ObservedDependency(namespace, name, service, endpoints, workloads=(DB,))


def eps(*where: tuple[str, str], ready: bool = True) -> tuple[Endpoint, ...]:
    return tuple(Endpoint(ready=ready, zone=z, node=n) for z, n in where)


SPREAD = eps(("zone-a", "zone-a-0"), ("zone-b", "zone-b-0"), ("zone-c", "zone-c-0"))


def status_with(
    *seen: ObservedDependency, depends_on: list[dict[str, Any]] | None = None, not_ready: tuple[str, ...] = ()
) -> dict[str, Any]:
    spec = {"replicas": 6, "dependsOn": depends_on if depends_on is not None else [{"service": "db"}]}
    observed = replace(world(ZONES, EVEN, not_ready=not_ready), dependencies=seen)
    prev = decide(site(spec), observed, T0).status  # past Pending
    return decide(site(spec, prev), observed, T0).status


def dependency_findings(status: dict[str, Any]) -> list[dict[str, Any]]:
    return [f for f in status["singlePointsOfFailure"] if f["scope"] == "Dependency"]


def condition(status: dict[str, Any], kind: str) -> dict[str, Any]:
    return next(c for c in status["conditions"] if c["type"] == kind)


def test_a_redundant_web_tier_with_a_one_replica_data_store_is_at_risk() -> None:
    status = status_with(db(eps(("zone-a", "zone-a-0"))))
    assert (status["phase"], status["spof"]) == ("AtRisk", True)
    [finding] = dependency_findings(status)
    assert finding["name"] == "web/db" and finding["severity"] == "SPOF"
    assert "only one endpoint is ready" in finding["message"]
    assert "web/db" in status["message"]
    assert status["dependencies"] == [
        {
            "service": "web/db",
            "required": True,
            "found": True,
            "readyEndpoints": 1,
            "zones": {"zone-a": 1},
            "nodes": 1,
            "workloads": [{"kind": "StatefulSet", "name": "db", "replicas": 1}],
        }
    ]
    loss = {row["zone"]: row for row in status["zoneLoss"]}
    assert loss["zone-a"]["readyReplicasLeft"] == 4
    assert loss["zone-a"]["dependencies"] == [{"service": "web/db", "readyEndpointsLeft": 0}]
    assert loss["zone-a"]["down"] is True and loss["zone-a"]["spof"] is True
    assert loss["zone-b"]["down"] is False


def test_a_data_store_spread_over_three_zones_keeps_the_site_redundant() -> None:
    status = status_with(db(SPREAD))
    assert status["phase"] == "Redundant" and not dependency_findings(status)
    assert condition(status, "DependenciesReady")["status"] == "True"
    assert all(row["down"] is False and row["spof"] is False for row in status["zoneLoss"])


@pytest.mark.parametrize(
    ("where", "scope_word"),
    [
        ((("zone-a", "zone-a-0"), ("zone-a", "zone-a-0")), "on node zone-a-0"),
        ((("zone-a", "zone-a-0"), ("zone-a", "zone-a-1")), "in zone zone-a"),
    ],
)
def test_all_endpoints_on_one_node_or_in_one_zone_is_one_finding(where: Any, scope_word: str) -> None:
    [finding] = dependency_findings(status_with(db(eps(*where))))
    assert scope_word in finding["message"]


def test_a_missing_service_is_reported_and_picked_up_when_it_appears() -> None:
    status = status_with()  # nothing observed of web/db
    assert status["phase"] == "AtRisk"
    assert "no such Service" in dependency_findings(status)[0]["message"]
    ready = condition(status, "DependenciesReady")
    assert (ready["status"], ready["reason"]) == ("False", "DependencyNotFound")
    assert status["dependencies"][0]["found"] is False
    later = status_with(db(SPREAD))
    assert later["phase"] == "Redundant"


def test_a_service_without_endpoints_says_so() -> None:
    status = status_with(db(eps(("zone-a", "zone-a-0"), ready=False)))
    assert "no ready endpoint" in dependency_findings(status)[0]["message"]
    assert condition(status, "DependenciesReady")["reason"] == "NoReadyEndpoints"


def test_an_optional_dependency_only_warns() -> None:
    status = status_with(db(eps(("zone-a", "zone-a-0"))), depends_on=[{"service": "db", "required": False}])
    assert status["phase"] == "Redundant" and status["spof"] is False
    assert dependency_findings(status)[0]["severity"] == "Warning"
    assert all(row["down"] is False for row in status["zoneLoss"])


def test_endpoints_on_a_not_ready_node_do_not_count() -> None:
    status = status_with(db(SPREAD), not_ready=("zone-c",))
    assert status["dependencies"][0]["readyEndpoints"] == 2


def test_a_dependency_in_another_zone_adds_a_what_if_row() -> None:
    status = status_with(db(eps(("zone-d", "zone-d-0"), ("zone-d", "zone-d-1"))))
    assert [row["zone"] for row in status["zoneLoss"]] == ["zone-a", "zone-b", "zone-c", "zone-d"]
    assert status["zoneLoss"][-1]["down"] is True and status["zoneLoss"][-1]["readyReplicasLeft"] == 6


def test_no_dependency_leaves_the_status_as_it_was() -> None:
    status = status_with(depends_on=[])
    assert status["dependencies"] == []
    assert "DependenciesReady" not in {c["type"] for c in status["conditions"]}
    assert all("down" not in row and "dependencies" not in row for row in status["zoneLoss"])


def test_gather_finds_services_by_namespace_and_another_site_by_its_own_indices() -> None:
    spec = {"dependsOn": [{"service": "db"}, {"service": "data/cache"}, {"service": "api"}, {"bad": 1}]}
    site_svc = Child(kind="Service", name="api", zone=None, body={})
    index: dict[Any, list[Any]] = {
        ("data", "cache", "service"): [Service("data", "cache", selector=(("app", "cache"),))],
        ("data", "cache", "endpoints"): [eps(("zone-a", "n1")), eps(("zone-b", "n2"))],
        ("data", "*", "workload"): [DB],
    }
    seen = dependency_records.gather(
        "web", spec, index, site_children={("web", "api"): [site_svc]}, site_endpoints={("web", "api"): [SPREAD]}
    )
    by_name = {s.name: s for s in seen}
    assert by_name["db"].service is None
    assert len(by_name["cache"].endpoints) == 2 and by_name["cache"].workloads == (DB,)
    assert (
        by_name["api"].service == Service("web", "api", selector=None, site="api")
        and len(by_name["api"].endpoints) == 3
    )


def test_index_entries_and_dependents() -> None:
    svc = {"kind": "Service", "metadata": {"namespace": "data", "name": "db"}, "spec": {"selector": {"app": "db"}}}
    assert dependency_records.index_entry(svc) == {("data", "db", "service"): Service("data", "db", (("app", "db"),))}
    sl = {"kind": "EndpointSlice", "metadata": {"namespace": "data", "labels": {"kubernetes.io/service-name": "db"}},
          "endpoints": [{"zone": "zone-a", "nodeName": "n1"}]}  # fmt: skip
    assert dependency_records.index_entry(sl) == {("data", "db", "endpoints"): eps(("zone-a", "n1"))}
    sts = {"kind": "StatefulSet", "metadata": {"namespace": "data", "name": "db"}, "spec": {"replicas": 2}}
    assert list(dependency_records.index_entry(sts)) == [("data", "*", "workload")]
    assert dependency_records.index_entry({"kind": "EndpointSlice", "metadata": {}}) == {}
    assert dependency_records.dependents("web", "shop", {"dependsOn": [{"service": "data/db"}]}) == {
        ("data", "db"): ("web", "shop"),
        ("data", "*"): ("web", "shop"),
    }


def test_the_workload_is_the_one_the_selector_matches() -> None:
    other = Workload("Deployment", "web", "web", replicas=3, template_labels=frozenset({("app", "web")}))
    seen = ObservedDependency("web", "db", Service("web", "db", (("app", "db"),)), SPREAD, workloads=(other, DB))
    spec = ResilientSiteSpec.model_validate({"template": {}, "dependsOn": [{"service": "db"}]})
    [report] = dependencies.resolve("web", spec, Observed(dependencies=(seen,)), True)
    assert [(w.kind, w.name, w.replicas) for w in report.workloads] == [("StatefulSet", "db", 1)]


def test_records_from_api_objects() -> None:
    sts = {
        "kind": "StatefulSet",
        "metadata": {"name": "db"},
        "spec": {"template": {"metadata": {"labels": {"a": "b"}}}},
    }
    assert parse.workload_from(sts) == Workload("StatefulSet", "", "db", 1, frozenset({("a", "b")}))
    svc = {"metadata": {"labels": {"spofless.dev/site": "api"}}, "spec": {"selector": {"x": "y"}}}
    assert parse.service_from(svc) == Service("", "", (("x", "y"),), "api")
    assert parse.slice_service({"metadata": {"labels": {"kubernetes.io/service-name": "db"}}}) == "db"


@pytest.mark.parametrize("bad", ["DB", "db_1", "a/b/c", "/db", "db/", "1db", "x" * 64, "ns/" + "y" * 64])
def test_malformed_service_names_are_refused(bad: str) -> None:
    with pytest.raises(ValidationError, match="must name a Service"):
        DependencySpec(service=bad)


@pytest.mark.parametrize("good", ["db", "data/db", "my-db-2", "ns-1/a"])
def test_service_names_and_namespaced_names_are_accepted(good: str) -> None:
    assert DependencySpec(service=good).required is True


NODE_NAMES = [f"{z}-{i}" for z in ZONES for i in range(3)]


@given(placed=st.lists(st.sampled_from(NODE_NAMES), max_size=8), required=st.booleans())
def test_a_dependency_is_a_spof_exactly_when_one_pillar_holds_it(placed: list[str], required: bool) -> None:
    where = tuple((n.rsplit("-", 1)[0], n) for n in placed)
    status = status_with(db(eps(*where)), depends_on=[{"service": "db", "required": required}])
    nodes, zones = {n for _, n in where}, {z for z, _ in where}
    one_pillar = len(where) <= 1 or len(nodes) == 1 or len(zones) == 1
    found = dependency_findings(status)
    assert bool(found) == one_pillar
    assert status["phase"] == ("AtRisk" if one_pillar and required else "Redundant")
    for row in status["zoneLoss"]:
        left = sum(1 for z, _ in where if z != row["zone"])
        assert row["dependencies"] == [{"service": "web/db", "readyEndpointsLeft": left}]
        assert row["down"] == (required and left == 0)


@given(per_zone=st.dictionaries(st.sampled_from(sorted(ZONES)), st.integers(0, 9)))
def test_what_losing_each_zone_leaves_adds_up(per_zone: dict[str, int]) -> None:
    spread = rules.spread_of([(z, f"{z}-0") for z, n in per_zone.items() for _ in range(n)], ZONES)
    assert sum(spread.total - spread.left_after_losing(z) for z in ZONES) == spread.total
