"""The audit's judgement (core/audit.py) on hand-made records, and the one-definition property: for
any placement, the audit flags a workload exactly when the operator's analysis flags a site."""

import json
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from spofless.audit import render
from spofless.core.judgement import audit, findings, rules
from spofless.core.model.spec import ResilientSiteSpec
from spofless.core.observed import parse as parsers
from spofless.core.observed.inventory import Inventory, Missing
from spofless.core.observed.records import (
    Budget,
    Endpoint,
    EndpointSlice,
    Node,
    Observed,
    Pod,
    Selector,
    Service,
    Workload,
)
from spofless.core.placement import zones

from .builders import TEMPLATE, ZONE_KEY


def node(name: str, zone: str, ready: bool) -> Node:
    return Node(name, {ZONE_KEY: zone}, ready)


def workload(kind: str, ns: str, name: str, replicas: int, template: dict[str, str], **kw: Any) -> Workload:
    return Workload(kind, ns, name, replicas, frozenset(template.items()), **kw)


def endpoint(ns: str, service: str, ready: bool, zone: str | None, on: str) -> EndpointSlice:
    return EndpointSlice(ns, service, (Endpoint(ready, zone, on),))


NODES = [node(f"{z}-{i}", z, True) for z in ("zone-a", "zone-b", "zone-c") for i in range(3)]
ALL_NODES = [n.name for n in NODES]


def deployment(name: str, replicas: int, ns: str = "app") -> list[Workload]:
    """A Deployment and its ReplicaSet."""
    labels = {"app": name}
    return [
        workload("Deployment", ns, name, replicas, labels),
        workload("ReplicaSet", ns, f"{name}-rs", replicas, labels, owner=("Deployment", name)),
    ]


def pods(
    name: str, on: list[str], ns: str = "app", owner: tuple[str, str] | None = None, ready: bool = True
) -> list[Pod]:
    owner = owner or ("ReplicaSet", f"{name}-rs")
    return [
        Pod(f"{name}-{i}", "", node, ready, False, namespace=ns, owner=owner, labels={"app": name})
        for i, node in enumerate(on)
    ]


def inventory(**kw: Any) -> Inventory:
    base: dict[str, Any] = {
        "nodes": list(NODES), "pods": [], "workloads": [], "budgets": [], "services": [], "endpoints": [],
    }  # fmt: skip
    return Inventory(**(base | kw))


def by_name(report: audit.AuditReport) -> dict[str, audit.WorkloadReport]:
    return {w.name: w for w in report.workloads}


def scopes(report: audit.AuditReport) -> set[tuple[str, str, str]]:
    return {(f.severity, f.scope, f.name) for f in report.findings}


def test_each_kind_of_single_point_is_found_and_a_spread_workload_is_clean() -> None:
    inv = inventory(
        workloads=[*deployment("single", 1), *deployment("onezone", 3), *deployment("onenode", 2),
                   *deployment("spread", 3)],
        pods=[*pods("single", ["zone-a-0"]), *pods("onezone", ["zone-a-0", "zone-a-1", "zone-a-2"]),
              *pods("onenode", ["zone-b-1", "zone-b-1"]), *pods("spread", ["zone-a-0", "zone-b-0", "zone-c-0"])],
    )  # fmt: skip
    report = audit.audit(inv)
    assert scopes(report) == {
        ("SPOF", "Replica", "single"),
        ("SPOF", "Zone", "onezone"),
        ("SPOF", "Node", "onenode"),
    }
    spread = by_name(report)["spread"]
    assert spread.ready is not None and spread.ready.per_zone == {"zone-a": 1, "zone-b": 1, "zone-c": 1}
    assert spread.zone_loss == {"zone-a": 2, "zone-b": 2, "zone-c": 2}
    assert "ReplicaSet" not in {w.kind for w in report.workloads}, "a Deployment's ReplicaSets are its own"
    lost_a = report.zone_loss[0]
    assert lost_a.zone == "zone-a" and set(lost_a.down) == {"app/Deployment/single", "app/Deployment/onezone"}


def test_ownerless_replicasets_and_statefulsets_are_audited() -> None:
    inv = inventory(
        workloads=[workload("ReplicaSet", "app", "bare", 2, {"app": "bare"}),
                   workload("StatefulSet", "app", "db", 3, {"app": "db"})],
        pods=[*pods("bare", ["zone-a-0", "zone-b-0"], owner=("ReplicaSet", "bare")),
              *pods("db", ["zone-a-0", "zone-b-0", "zone-c-0"], owner=("StatefulSet", "db"))],
    )  # fmt: skip
    report = audit.audit(inv)
    assert {(w.kind, w.name, w.ready.total if w.ready else None) for w in report.workloads} == {
        ("ReplicaSet", "bare", 2),
        ("StatefulSet", "db", 3),
    }
    assert not report.findings


def test_pods_not_ready_or_on_a_not_ready_node_do_not_count() -> None:
    nodes = [node(n.name, n.zone(ZONE_KEY) or "", n.zone(ZONE_KEY) != "zone-c") for n in NODES]
    inv = inventory(
        nodes=nodes,
        workloads=deployment("web", 3),
        pods=[*pods("web", ["zone-a-0"]), *pods("web", ["zone-b-0"], ready=False), *pods("web", ["zone-c-0"])],
    )
    web = by_name(audit.audit(inv))["web"]
    assert web.ready is not None and web.ready.total == 1 and web.finding and web.finding.scope == "Replica"


def test_budgets_that_never_allow_an_eviction_or_cover_nothing_are_warnings() -> None:
    sel = Selector((("app", "web"),))
    inv = inventory(
        workloads=deployment("web", 3),
        pods=pods("web", ["zone-a-0", "zone-b-0", "zone-c-0"]),
        budgets=[
            Budget("app", "zero", sel, 0, None, 3),
            Budget("app", "all", sel, None, "100%", 3),
            Budget("app", "fine", sel, 1, None, 3),
            Budget("app", "nothing", Selector((("app", "gone"),)), 1, None, 0),
        ],
    )
    report = audit.audit(inv)
    assert scopes(report) == {
        ("Warning", "DisruptionBudget", "zero"),
        ("Warning", "DisruptionBudget", "all"),
        ("Warning", "DisruptionBudget", "nothing"),
    }
    assert by_name(report)["web"].budgets == ("zero", "all", "fine")
    assert report.fails("Warning") and not report.fails("SPOF") and not report.fails(None)


def test_a_service_with_endpoints_in_one_zone_is_a_spof() -> None:
    inv = inventory(
        services=[Service("app", "db", (("app", "db"),)), Service("app", "web", (("app", "web"),)),
                  Service("default", "kubernetes", None)],
        endpoints=[endpoint("app", "db", True, "zone-a", "zone-a-0"),
                   endpoint("app", "db", True, None, "zone-a-1"),
                   endpoint("app", "web", True, "zone-a", "zone-a-0"),
                   endpoint("app", "web", True, "zone-b", "zone-b-0")],
    )  # fmt: skip
    report = audit.audit(inv)
    assert scopes(report) == {("SPOF", "Service", "db")}
    assert "zone zone-a only" in report.findings[0].message
    assert {s.name for s in report.services} == {"db", "web"}, "a Service without a selector fronts no workload"


def test_missing_permissions_are_reported_and_nothing_is_made_up() -> None:
    missing = [Missing("list", "pods", "app", "live placement unknown")]
    inv = inventory(pods=None, workloads=deployment("web", 3), missing=missing)
    report = audit.audit(inv)
    assert by_name(report)["web"].ready is None and by_name(report)["web"].finding is None
    assert scopes(report) == {("Warning", "Permission", "list pods")}
    assert report.missing == tuple(missing)


def test_without_replicasets_a_deployments_pods_are_told_by_their_labels() -> None:
    inv = inventory(
        workloads=[deployment("web", 2)[0]],
        pods=pods("web", ["zone-a-0", "zone-b-0"]),
        replicasets_read=False,
    )
    web = by_name(audit.audit(inv))["web"]
    assert web.ready is not None and web.ready.total == 2


def test_a_cluster_in_one_zone_is_a_topology_spof() -> None:
    report = audit.audit(inventory(nodes=[node("n1", "zone-a", True), node("n2", "zone-a", True)]))
    assert scopes(report) == {("SPOF", "Topology", "zone-a")}


def test_selected_workloads_only() -> None:
    inv = inventory(workloads=[*deployment("a", 1), *deployment("b", 1)], pods=[*pods("a", ["zone-a-0"])])
    report = audit.audit(inv, selected={("Deployment", "app", "b")})
    assert [w.name for w in report.workloads] == ["b"]


def test_records_from_api_objects() -> None:
    pod = {
        "metadata": {"namespace": "app", "name": "p", "labels": {"a": "1"},
                     "ownerReferences": [{"kind": "ReplicaSet", "name": "rs", "controller": True}]},
        "spec": {"nodeName": "n1"},
        "status": {"conditions": [{"type": "Ready", "status": "True"}]},
    }  # fmt: skip
    record = parsers.pod_from(pod)
    assert (record.namespace, record.name, record.owner, record.node, record.ready) == (
        "app",
        "p",
        ("ReplicaSet", "rs"),
        "n1",
        True,
    )
    assert record.labels == {"a": "1"} and not record.terminating
    pdb = {"metadata": {"namespace": "app", "name": "b"},
           "spec": {"maxUnavailable": "0%", "selector": {"matchExpressions": [{"key": "a", "operator": "In", "values": ["1"]}]}},
           "status": {"expectedPods": 2}}  # fmt: skip
    budget = parsers.budget_from(pdb)
    assert budget.selector is not None and budget.selector.matches({"a": "1"}) and not budget.selector.matches({})
    assert rules.budget_blocks_evictions(budget.max_unavailable, None, 2)
    sl = {"metadata": {"namespace": "app", "labels": {"kubernetes.io/service-name": "s"}},
          "endpoints": [{"conditions": {"ready": False}, "zone": "z", "nodeName": "n"}, {}]}  # fmt: skip
    assert [e.ready for e in parsers.endpoints_from(sl)] == [False, True]


@pytest.mark.parametrize(
    ("labels", "expressions", "matches"),
    [
        ({"a": "1", "b": "2"}, [("a", "In", ("1", "3"))], True),
        ({"a": "1"}, [("a", "NotIn", ("1",))], False),
        ({"a": "1"}, [("b", "DoesNotExist", ())], True),
        ({"a": "1"}, [("b", "Exists", ())], False),
    ],
)
def test_selector_expressions(labels: dict[str, str], expressions: Any, matches: bool) -> None:
    assert Selector((), tuple(expressions)).matches(labels) is matches


def test_json_and_table_output() -> None:
    inv = inventory(workloads=deployment("single", 1), pods=pods("single", ["zone-a-0"]))
    report = audit.audit(inv)
    data = json.loads(render.as_json(report, "all namespaces"))
    assert data["summary"] == {"SPOF": 1, "Warning": 0}
    assert data["workloads"][0]["zones"] == {"zone-a": 1} and data["workloads"][0]["zoneLoss"]["zone-a"] == 0
    table = render.as_table(report, "all namespaces")
    assert "app/Deployment/single" in table and "zone-a: 0 left" in table and "IF A ZONE IS LOST" in table


@given(placed=st.lists(st.sampled_from(ALL_NODES), max_size=7))
def test_the_audit_and_the_operator_agree_on_what_is_a_spof(placed: list[str]) -> None:
    """The same pods, seen as a site by the operator and as a Deployment by the audit."""
    report = audit.audit(inventory(workloads=deployment("web", max(len(placed), 1)), pods=pods("web", placed)))
    spec = ResilientSiteSpec.model_validate({"template": TEMPLATE})
    nodes = tuple(NODES)
    observed = Observed(
        nodes=nodes, pods=tuple(Pod(f"p{i}", n.rsplit("-", 1)[0], n, True, False) for i, n in enumerate(placed))
    )
    zone_set = zones.resolve(None, ZONE_KEY, nodes, [])
    ready = findings.readiness(observed, list(zone_set.expected))
    site = [
        f for f in findings.findings(spec, zone_set, ready, observed, "web") if f.scope in ("Replica", "Zone", "Node")
    ]
    web = by_name(report)["web"]
    assert (web.finding is not None) == bool(site)
    if web.finding is not None:
        worst = rules.worst([rules.Weakness(f.scope, f.name, f.message) for f in site])  # type: ignore[arg-type]
        assert worst is not None and web.finding.scope == worst.scope
    assert web.zone_loss == {z: ready.left_after_losing(z) for z in zone_set.expected}


@given(expected=st.integers(0, 50), value=st.integers(0, 60))
def test_a_budget_blocks_evictions_exactly_when_it_leaves_no_pod_to_spare(expected: int, value: int) -> None:
    assert rules.budget_blocks_evictions(value, None, expected) == (value == 0)
    assert rules.budget_blocks_evictions(None, value, expected) == (expected > 0 and value >= expected)
    assert rules.budget_blocks_evictions(None, "100%", expected) == (expected > 0)
    assert rules.budget_blocks_evictions("0%", None, expected)
    assert not rules.budget_blocks_evictions(None, None, expected)


def test_with_a_selector_only_the_budgets_of_chosen_workloads_are_reported() -> None:
    inv = inventory(
        workloads=[*deployment("a", 1), *deployment("b", 1)],
        budgets=[Budget("app", "pa", Selector((("app", "a"),)), 0, None, 1),
                 Budget("app", "pb", Selector((("app", "b"),)), 0, None, 1),
                 Budget("app", "none", Selector((("app", "x"),)), 0, None, 0)],
    )  # fmt: skip
    report = audit.audit(inv, selected={("Deployment", "app", "b")})
    assert [b.name for b in report.budgets] == ["pb"]


def test_a_sites_per_zone_deployments_are_judged_as_the_site() -> None:
    site = {"app.kubernetes.io/managed-by": "spofless", "spofless.dev/site": "shop"}
    workloads, placed = [], []
    for zone in ("zone-a", "zone-b", "zone-c"):
        name = f"shop-{zone}"
        workloads += [
            workload("Deployment", "web", name, 2, {"app": name}, labels=site),
            workload("ReplicaSet", "web", f"{name}-rs", 2, {"app": name}, owner=("Deployment", name)),
        ]
        placed += pods(name, [f"{zone}-0", f"{zone}-1"], ns="web")
    budgets = [Budget("web", f"shop-{z}", Selector((("app", f"shop-{z}"),)), 1, None, 2) for z in ("zone-a", "zone-b")]
    report = audit.audit(inventory(workloads=workloads, pods=placed, budgets=budgets))
    [shop] = report.workloads
    assert (shop.kind, shop.name, shop.replicas) == ("ResilientSite", "shop", 6)
    assert shop.ready is not None and shop.ready.per_zone == {"zone-a": 2, "zone-b": 2, "zone-c": 2}
    assert shop.finding is None and shop.budgets == ("shop-zone-a", "shop-zone-b")
