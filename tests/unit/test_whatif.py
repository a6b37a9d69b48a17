"""`whatif --lose ZONE` (core/judgement/whatif.py and its rendering): what a zone's loss would leave,
judged by the audit's rules on the cluster as it would be."""

import json
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from spofless.audit import whatif as render
from spofless.core.judgement import audit, whatif
from spofless.core.observed.inventory import Missing
from spofless.core.observed.records import Service, Workload
from spofless.core.observed.sites import site_from

from .builders import ZONE_KEY
from .test_audit import ALL_NODES, deployment, endpoint, inventory, pods, workload


def site_workloads(name: str, zones: list[str], ns: str = "app") -> list[Workload]:
    """A ResilientSite's per-zone Deployments, as the audit sees them."""
    labels = {"app.kubernetes.io/managed-by": "spofless", "spofless.dev/site": name}
    return [
        workload("Deployment", ns, f"{name}-{z}", 1, {"app": name}, labels=labels) for z in zones
    ] + [
        workload("ReplicaSet", ns, f"{name}-{z}-rs", 1, {"app": name}, owner=("Deployment", f"{name}-{z}"))
        for z in zones
    ]  # fmt: skip


def site_pods(name: str, zones: list[str], ns: str = "app") -> list[Any]:
    return [p for z in zones for p in pods(name, [f"{z}-0"], ns, owner=("ReplicaSet", f"{name}-{z}-rs"))]


def status_of(name: str, zone_loss: list[dict[str, Any]], shares: dict[str, int], ns: str = "app") -> Any:
    zones = [{"name": z, "deployment": f"{name}-{z}", "desiredReplicas": n, "readyReplicas": n, "nodes": 3,
              "readyNodes": 3, "healthy": True} for z, n in shares.items()]  # fmt: skip
    return site_from({"metadata": {"namespace": ns, "name": name, "generation": 1},
                      "spec": {"replicas": sum(shares.values())},
                      "status": {"phase": "Redundant", "zones": zones, "zoneLoss": zone_loss}})  # fmt: skip


def outcomes(answer: whatif.WhatIf) -> dict[str, whatif.Outcome]:
    return {o.name: o for o in answer.outcomes()}


def test_losing_a_zone_says_what_goes_down_what_stands_on_one_pillar_and_what_stays() -> None:
    inv = inventory(
        workloads=[*deployment("spread", 3), *deployment("pair", 3), *deployment("here", 2), *deployment("idle", 1)],
        pods=[*pods("spread", ["zone-a-0", "zone-b-0", "zone-c-0"]), *pods("pair", ["zone-a-0", "zone-a-1", "zone-b-0"]),
              *pods("here", ["zone-a-0", "zone-a-1"]), *pods("idle", ["zone-b-0"], ready=False)],
        services=[Service("app", "db", (("app", "db"),))],
        endpoints=[endpoint("app", "db", True, "zone-a", "zone-a-2")],
    )  # fmt: skip
    got = outcomes(whatif.whatif(inv, "zone-a"))
    assert (got["spread"].verdict, got["spread"].ready_left, got["spread"].zones_left) == ("Stays", 2, 2)
    assert (got["pair"].verdict, got["pair"].ready_left) == ("AtRisk", 1)
    assert "only one pod is ready" in got["pair"].standing_on
    assert (got["here"].verdict, got["here"].ready_now, got["here"].ready_left) == ("Down", 2, 0)
    assert got["idle"].verdict == "AlreadyDown"
    assert (got["db"].kind, got["db"].verdict) == ("Service", "Down")


def test_a_zone_with_no_ready_node_is_refused_by_name() -> None:
    with pytest.raises(whatif.UnknownZone, match=r"zone zone-x has no Ready node .*zone-a, zone-b, zone-c"):
        whatif.whatif(inventory(), "zone-x")


def test_a_two_zone_cluster_losing_one_is_left_on_one_zone() -> None:
    two = [n for n in inventory().nodes or [] if n.zone(ZONE_KEY) != "zone-c"]
    answer = whatif.whatif(inventory(nodes=two), "zone-b")
    assert [f.scope for f in answer.cluster] == ["Topology"]
    assert answer.zones_left == ("zone-a",)


def test_a_site_adds_what_spofless_would_move_and_its_dependencies() -> None:
    zones = ["zone-a", "zone-b", "zone-c"]
    inv = inventory(workloads=site_workloads("shop", zones), pods=site_pods("shop", zones))
    loss = [{"zone": "zone-a", "readyReplicasLeft": 2, "readyZonesLeft": 2, "spof": False, "absorbable": False,
             "wouldStayPending": 1, "down": True, "dependencies": [{"service": "app/db", "readyEndpointsLeft": 0}]}]  # fmt: skip
    sites = [status_of("shop", loss, dict.fromkeys(zones, 1))]
    shop = outcomes(whatif.whatif(inv, "zone-a", sites=sites))["shop"]
    assert (shop.kind, shop.ready_left) == ("ResilientSite", 2)
    assert (shop.verdict, shop.standing_on) == ("Down", "app/db: no ready endpoint left"), (
        "a required dependency left with no endpoint takes the site down"
    )
    assert shop.notes == (
        "spofless moves its 1 replica(s) of zone-a to the other zones; no room: 1 would stay Pending",
        "dependency app/db: 0 ready endpoint(s) left",
    )
    fine = outcomes(whatif.whatif(inv, "zone-b", sites=sites))["shop"]
    assert fine.verdict == "Stays"
    assert fine.notes == ("spofless moves its 1 replica(s) of zone-b to the other zones; room unknown "
                          "(the nodes report no allocatable resources)",)  # fmt: skip


def test_fail_on_down_or_spof() -> None:
    inv = inventory(workloads=[*deployment("pair", 2)], pods=pods("pair", ["zone-a-0", "zone-b-0"]))
    answer = whatif.whatif(inv, "zone-a")
    assert (answer.fails("Down"), answer.fails("AtRisk"), answer.fails(None)) == (False, True, False)


@given(st.lists(st.sampled_from(ALL_NODES), max_size=8), st.sampled_from(["zone-a", "zone-b", "zone-c"]))
def test_what_is_left_is_what_the_audit_says_losing_the_zone_would_leave(on: list[str], zone: str) -> None:
    """One answer, two routes: the audit's LOSING A ZONE column and whatif's judgement of the cluster
    with the zone's nodes NotReady agree on every placement, and Down means exactly nothing left."""
    inv = inventory(workloads=deployment("w", max(1, len(on))), pods=pods("w", on))
    report = audit.audit(inv)
    (outcome,) = whatif.whatif(inv, zone).workloads
    assert outcome.ready_left == report.workloads[0].zone_loss[zone]
    assert (outcome.verdict == "Down") == (len(on) > 0 and outcome.ready_left == 0)
    assert (outcome.verdict == "AlreadyDown") == (len(on) == 0)


def test_the_table_and_json_say_the_same() -> None:
    inv = inventory(
        workloads=[*deployment("here", 2), *deployment("spread", 3)],
        pods=[*pods("here", ["zone-a-0", "zone-a-1"]), *pods("spread", ["zone-a-0", "zone-b-0", "zone-c-0"])],
        missing=[Missing("list", "poddisruptionbudgets.policy", "app", "PodDisruptionBudget coverage unknown")],
    )  # fmt: skip
    answer = whatif.whatif(inv, "zone-a")
    table = render.as_table(answer, "namespace app")
    assert "losing zone-a (namespace app); zones left: zone-b, zone-c" in table
    assert "1 would go down, 0 would be left on one pillar, 1 stay up" in table
    assert [line.split()[-1] for line in table.splitlines() if line.startswith("app/")] == ["DOWN", "up"]
    assert "MISSING PERMISSIONS" in table
    data = json.loads(render.as_json(answer, "namespace app"))
    assert data["summary"] == {"Down": 1, "AtRisk": 0, "Stays": 1, "AlreadyDown": 0}
    assert [(w["name"], w["verdict"], w["readyLeft"]) for w in data["workloads"]] == [("here", "Down", 0),
                                                                                     ("spread", "Stays", 2)]  # fmt: skip
