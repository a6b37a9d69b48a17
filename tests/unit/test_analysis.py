from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from spofless.core.judgement import findings
from spofless.core.model.spec import ResilientSiteSpec
from spofless.core.model.status import Finding, ZoneLoss
from spofless.core.observed.records import Endpoint, Observed
from spofless.core.placement import zones

from .builders import TEMPLATE, ZONE_KEY, budgets, endpoints, nodes, pods

THREE = {"zone-a": 3, "zone-b": 3, "zone-c": 3}


def run(
    per_zone: dict[str, int],
    node_zones: dict[str, int] = THREE,
    min_zones: int = 2,
    eps: tuple[Endpoint, ...] | None = None,
    node_of: Any = None,
) -> tuple[list[Finding], list[ZoneLoss]]:
    spec = ResilientSiteSpec.model_validate({"template": TEMPLATE, "minZones": min_zones})
    observed = Observed(
        nodes=nodes(node_zones),
        pods=pods(per_zone, node_of=node_of),
        endpoints=endpoints(per_zone) if eps is None else eps,
        children=budgets("shop", sorted(node_zones)),
    )
    zone_set = zones.resolve(None, ZONE_KEY, observed.nodes, [])
    ready = findings.readiness(observed, list(zone_set.expected))
    return findings.findings(spec, zone_set, ready, observed, "shop"), findings.zone_loss(
        spec, zone_set.expected, ready
    )


def scopes(found) -> set[str]:  # type: ignore[no-untyped-def]
    return {f.scope for f in found if f.severity == "SPOF"}


def test_evenly_spread_site_has_no_spof() -> None:
    found, loss = run({"zone-a": 2, "zone-b": 2, "zone-c": 2})
    assert scopes(found) == set()
    assert [(z.zone, z.ready_replicas_left, z.spof) for z in loss] == [
        ("zone-a", 4, False),
        ("zone-b", 4, False),
        ("zone-c", 4, False),
    ]


@given(zone=st.sampled_from(sorted(THREE)), count=st.integers(1, 40), min_zones=st.integers(2, 3))
def test_all_ready_pods_in_one_zone_is_always_a_zone_spof(zone: str, count: int, min_zones: int) -> None:
    found, loss = run({zone: count}, min_zones=min_zones)
    zone_findings = [f for f in found if f.scope == "Zone"]
    assert zone_findings and zone_findings[0].name == zone
    assert f"zone {zone}" in zone_findings[0].message
    assert next(z for z in loss if z.zone == zone).ready_replicas_left == 0


def test_one_ready_replica_is_a_replica_spof() -> None:
    found, _ = run({"zone-a": 1})
    assert {"Replica", "Zone"} <= scopes(found)


def test_no_ready_replica_says_the_site_is_down() -> None:
    found, _ = run({})
    assert any(f.scope == "Replica" and "down" in f.message for f in found)


def test_all_pods_on_one_node_is_a_node_spof() -> None:
    found, _ = run({"zone-a": 2, "zone-b": 2}, node_of=lambda z, i: "zone-a-0")
    node = [f for f in found if f.scope == "Node"]
    assert node and node[0].name == "zone-a-0"


def test_a_cluster_with_one_zone_is_a_topology_spof() -> None:
    found, _ = run({"zone-a": 3}, node_zones={"zone-a": 3})
    assert "Topology" in scopes(found)


def test_endpoints_in_one_zone_only_is_a_service_spof() -> None:
    found, _ = run({"zone-a": 2, "zone-b": 2}, eps=endpoints({"zone-a": 2}))
    assert any(f.scope == "Service" and "zone-a only" in f.message for f in found)


def test_no_ready_endpoint_is_a_service_spof() -> None:
    found, _ = run({"zone-a": 2, "zone-b": 2}, eps=(Endpoint(ready=False, zone="zone-a", node="zone-a-0"),))
    assert any(f.scope == "Service" and "no ready endpoint" in f.message for f in found)


def test_pods_on_a_not_ready_node_are_not_counted() -> None:
    spec = ResilientSiteSpec.model_validate({"template": TEMPLATE})
    observed = Observed(nodes=nodes(THREE, not_ready=("zone-b",)), pods=pods({"zone-a": 2, "zone-b": 2}))
    ready = findings.readiness(observed, sorted(THREE))
    assert ready.per_zone == {"zone-a": 2, "zone-b": 0, "zone-c": 0}
    assert spec.min_zones == 2


def test_budget_forbidding_every_disruption_is_a_warning_not_a_spof() -> None:
    spec = ResilientSiteSpec.model_validate({"template": TEMPLATE, "disruptionBudget": {"maxUnavailable": 0}})
    observed = Observed(
        nodes=nodes(THREE),
        pods=pods({"zone-a": 2, "zone-b": 2, "zone-c": 2}),
        endpoints=endpoints({"zone-a": 1, "zone-b": 1}),
    )
    zone_set = zones.resolve(None, ZONE_KEY, observed.nodes, [])
    found = findings.findings(spec, zone_set, findings.readiness(observed, list(zone_set.expected)), observed, "shop")
    budget = [f for f in found if f.scope == "DisruptionBudget"]
    assert budget and all(f.severity == "Warning" for f in budget)
    assert any("drains will hang" in f.message for f in budget)
