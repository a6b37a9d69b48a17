"""The rollout inside the site's decision: one zone's Deployment gets the new template at a time,
the others keep theirs, and failover moves replicas whatever the rollout's state."""

from __future__ import annotations

import copy
from datetime import datetime, timedelta
from typing import Any

from spofless.core.model import names, template
from spofless.core.observed.records import Child, Observed
from spofless.core.site.decision import ApplyFailure, Decision, decide

from .builders import T0, TEMPLATE, budgets, deployment_body, endpoints, nodes, pods, site

ZONES = {"zone-a": 3, "zone-b": 3, "zone-c": 3}
EVEN = {"zone-a": 2, "zone-b": 2, "zone-c": 2}
NEW = copy.deepcopy(TEMPLATE)
NEW["spec"]["containers"][0]["image"] = "nginx:2"
OLD_REV, NEW_REV = template.revision(TEMPLATE), template.revision(NEW)
ROLLOUT = {"bakeSeconds": 30, "progressDeadlineSeconds": 60}


def cluster(
    sources: dict[str, dict[str, Any] | None],
    ready: dict[str, dict[str | None, int]],
    replicas: dict[str, int] = EVEN,
    not_ready: tuple[str, ...] = (),
) -> Observed:
    """Each zone's Deployment runs sources[zone]; ready[zone] counts its ready pods by revision."""
    children = tuple(
        Child("Deployment", names.child_name("shop", z), z, deployment_body(replicas[z], sources[z])) for z in sources
    )
    all_pods = tuple(p for z, by_rev in ready.items() for r, n in by_rev.items() for p in pods({z: n}, revision=r))
    per_zone = {z: sum(by_rev.values()) for z, by_rev in ready.items()}
    return Observed(
        nodes=nodes(ZONES, not_ready),
        pods=all_pods,
        endpoints=endpoints(per_zone),
        children=children + budgets("shop", sorted(ZONES)),
    )


def zone_templates(result: Decision) -> dict[str, str]:
    out = {}
    for m in result.apply:
        if m["kind"] == "Deployment":
            zone = m["metadata"]["labels"][names.LABEL_ZONE]
            out[zone] = m["spec"]["template"]["metadata"]["annotations"][names.ANNOTATION_REVISION]
    return out


def replicas(result: Decision) -> dict[str, int]:
    out = {
        m["metadata"]["labels"][names.LABEL_ZONE]: m["spec"]["replicas"]
        for m in result.apply
        if m["kind"] == "Deployment"
    }
    return out | {n.removeprefix("shop-"): r for n, r in result.scale.items()}


def condition(status: dict[str, Any], kind: str) -> dict[str, Any]:
    return next(c for c in status["conditions"] if c["type"] == kind)


def steady() -> dict[str, Any]:
    old: dict[str, dict[str, Any] | None] = {z: TEMPLATE for z in ZONES}
    return decide(site({"replicas": 6, "rollout": ROLLOUT}), cluster(old, {z: {OLD_REV: 2} for z in ZONES}), T0).status


def change(status: dict[str, Any], observed: Observed, at: datetime, **extra: Any) -> Decision:
    spec = {"replicas": 6, "rollout": ROLLOUT, "template": NEW, **extra}
    return decide(site(spec, status, generation=2), observed, at)


def test_a_steady_site_has_a_complete_rollout_and_no_halt() -> None:
    status = steady()
    assert status["rollout"]["phase"] == "Complete" and status["rollout"]["targetRevision"] == OLD_REV
    assert condition(status, "RolloutHalted")["status"] == "False"


def test_a_template_change_reaches_one_zone_first() -> None:
    observed = cluster({z: TEMPLATE for z in ZONES}, {z: {OLD_REV: 2} for z in ZONES})
    result = change(steady(), observed, T0 + timedelta(seconds=1))
    assert zone_templates(result) == {"zone-a": NEW_REV, "zone-b": OLD_REV, "zone-c": OLD_REV}
    rollout = result.status["rollout"]
    assert (rollout["phase"], rollout["zoneInProgress"], rollout["zonesPending"]) == (
        "Progressing",
        "zone-a",
        ["zone-b", "zone-c"],
    )
    assert [e.reason for e in result.events if e.reason.startswith("Rollout")] == ["RolloutStarted", "RolloutZone"]
    assert result.wake_after is not None and result.wake_after <= 60 and not result.wake_moves


def test_the_next_zone_starts_after_the_first_is_ready_and_baked() -> None:
    first = change(steady(), cluster({z: TEMPLATE for z in ZONES}, {z: {OLD_REV: 2} for z in ZONES}), T0)
    rolled = cluster(
        {"zone-a": NEW, "zone-b": TEMPLATE, "zone-c": TEMPLATE},
        {"zone-a": {NEW_REV: 2}, "zone-b": {OLD_REV: 2}, "zone-c": {OLD_REV: 2}},
    )
    baking = change(first.status, rolled, T0 + timedelta(seconds=5))
    assert baking.status["rollout"]["phase"] == "Baking"
    assert zone_templates(baking)["zone-b"] == OLD_REV
    next_zone = change(baking.status, rolled, T0 + timedelta(seconds=40))
    assert zone_templates(next_zone) == {"zone-a": NEW_REV, "zone-b": NEW_REV, "zone-c": OLD_REV}
    assert next_zone.status["rollout"]["zonesDone"] == ["zone-a"]


def test_a_halt_rolls_the_zone_back_and_says_so() -> None:
    first = change(steady(), cluster({z: TEMPLATE for z in ZONES}, {z: {OLD_REV: 2} for z in ZONES}), T0)
    stuck = cluster({"zone-a": NEW, "zone-b": TEMPLATE, "zone-c": TEMPLATE}, {z: {OLD_REV: 2} for z in ZONES})
    halted = change(first.status, stuck, T0 + timedelta(seconds=61))
    assert zone_templates(halted) == {"zone-a": OLD_REV, "zone-b": OLD_REV, "zone-c": OLD_REV}
    zone_a = next(m for m in halted.apply if m["metadata"]["name"] == "shop-zone-a")
    assert zone_a["metadata"]["annotations"][names.ANNOTATION_ROLLED_BACK] == NEW_REV
    assert condition(halted.status, "RolloutHalted")["status"] == "True"
    assert condition(halted.status, "RolloutHalted")["reason"] == "ProgressDeadlineExceeded"
    warnings = [e.reason for e in halted.events if e.type == "Warning"]
    assert "RolloutHalted" in warnings and "RolloutRolledBack" in warnings
    assert halted.status["phase"] == "Redundant" and not halted.status["spof"]  # a halt is no SPOF in itself


def test_a_lost_zone_moves_replicas_while_the_rollout_is_halted() -> None:
    first = change(steady(), cluster({z: TEMPLATE for z in ZONES}, {z: {OLD_REV: 2} for z in ZONES}), T0)
    stuck = cluster({"zone-a": NEW, "zone-b": TEMPLATE, "zone-c": TEMPLATE}, {z: {OLD_REV: 2} for z in ZONES})
    halted = change(first.status, stuck, T0 + timedelta(seconds=61))
    lost = cluster(
        {"zone-a": TEMPLATE, "zone-b": TEMPLATE, "zone-c": TEMPLATE},
        {"zone-a": {OLD_REV: 2}, "zone-c": {OLD_REV: 2}},
        not_ready=("zone-b",),
    )
    moved = change(halted.status, lost, T0 + timedelta(seconds=70))
    assert replicas(moved) == {"zone-a": 3, "zone-b": 2, "zone-c": 3}
    assert zone_templates(moved) == {"zone-a": OLD_REV, "zone-b": OLD_REV, "zone-c": OLD_REV}
    assert moved.status["rollout"]["phase"] == "Halted"
    assert next(z for z in moved.status["zones"] if z["name"] == "zone-b")["healthy"] is False


def test_deployments_of_an_older_operator_keep_their_template_and_still_scale() -> None:
    unknown: dict[str, dict[str, Any] | None] = {z: None for z in ZONES}
    prev = steady()
    lost = cluster(unknown, {"zone-a": {None: 2}, "zone-c": {None: 2}}, not_ready=("zone-b",))
    result = decide(site({"replicas": 6, "rollout": ROLLOUT}, prev), lost, T0 + timedelta(seconds=5))
    assert zone_templates(result) == {}  # no template re-sent: spofless does not know it
    assert result.scale == {"shop-zone-a": 3, "shop-zone-c": 3}  # the lost zone keeps its 2
    assert result.status["rollout"]["phase"] == "Waiting"  # no zone starts while one is lost
    assert result.delete == []  # scaled alone, still wanted


def test_a_replica_change_is_no_rollout() -> None:
    observed = cluster({z: TEMPLATE for z in ZONES}, {z: {OLD_REV: 2} for z in ZONES})
    result = decide(site({"replicas": 9, "rollout": ROLLOUT}, steady(), generation=2), observed, T0)
    assert replicas(result) == {"zone-a": 3, "zone-b": 3, "zone-c": 3}
    assert not [e for e in result.events if e.reason.startswith("Rollout")]


def test_zones_left_alone_are_never_deleted() -> None:
    unknown: dict[str, dict[str, Any] | None] = {z: None for z in ZONES}
    observed = cluster(unknown, {z: {None: 2} for z in ZONES})
    result = decide(site({"replicas": 6, "rollout": ROLLOUT}, steady()), observed, T0 + timedelta(seconds=5))
    assert len(zone_templates(result)) == 1  # one zone starts; the other two are left as they are
    assert result.delete == []


def test_a_refused_template_stays_invalid_without_churning_the_status() -> None:
    observed = cluster({z: TEMPLATE for z in ZONES}, {z: {OLD_REV: 2} for z in ZONES})
    spec = {"replicas": 6, "rollout": ROLLOUT, "template": NEW}
    trouble = ApplyFailure("ApplyRefused", "the API server refused Deployment shop-zone-a: bad", "Deployment")
    refused = decide(site(spec, steady(), generation=2), observed, T0, trouble)
    assert refused.status["phase"] == "Invalid"
    assert [e.reason for e in refused.events if e.type == "Warning"] == ["ApplyRefused", "RolloutHalted"]
    later = decide(site(spec, refused.status, generation=2), observed, T0 + timedelta(seconds=30))
    assert later.status["phase"] == "Invalid" and zone_templates(later).get("zone-a") != NEW_REV
    again = decide(site(spec, later.status, generation=2), observed, T0 + timedelta(seconds=60))
    assert again.status == later.status and again.events == []
