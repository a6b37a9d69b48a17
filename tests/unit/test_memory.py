"""The site's memory (its last status) cannot be lost: read field by field, times parsed at the edge,
and no zone Deployment deleted for want of memory."""

from __future__ import annotations

import copy
from datetime import timedelta
from typing import Any

from spofless.core.model.reading import read
from spofless.core.model.status import ResilientSiteStatus
from spofless.core.observed.records import Observed
from spofless.core.site.decision import Decision, decide

from .builders import T0, nodes, site, world

ZONES = {"zone-a": 3, "zone-b": 3, "zone-c": 3}
EVEN = {"zone-a": 2, "zone-b": 2, "zone-c": 2}
SPEC = {"replicas": 6}


def zone_c_gone(prev: dict[str, Any], at: Any) -> Decision:
    """zone-c's Node objects are deleted; its Deployment and pods stay (they may serve behind a partition)."""
    observed = world(ZONES, {"zone-a": 3, "zone-b": 3, "zone-c": 2}, replicas={"zone-a": 3, "zone-b": 3, "zone-c": 2})
    observed = Observed(
        nodes=nodes({"zone-a": 3, "zone-b": 3}),
        pods=observed.pods,
        endpoints=observed.endpoints,
        children=observed.children,
    )
    return decide(site(SPEC, prev), observed, at)


def after_zone_c_is_gone() -> dict[str, Any]:
    steady = decide(site(SPEC), world(ZONES, EVEN), T0).status
    steady = decide(site(SPEC, steady), world(ZONES, EVEN), T0).status
    status = zone_c_gone(steady, T0 + timedelta(seconds=5)).status
    assert "zone-c" in status["knownZones"] and any(z["name"] == "zone-c" for z in status["zones"])
    return status


def deleted(result: Decision) -> list[str]:
    return [name for kind, name in result.delete if kind == "Deployment"]


def test_one_unknown_status_field_does_not_erase_the_sites_memory() -> None:
    status = after_zone_c_is_gone()
    status["fieldOfANewerSpofless"] = {"anything": 1}
    status["zones"][0]["extra"] = "x"
    result = zone_c_gone(status, T0 + timedelta(seconds=10))
    assert "shop-zone-c" not in deleted(result)
    assert "zone-c" in result.status["knownZones"]
    assert [z["name"] for z in result.status["zones"]] == ["zone-a", "zone-b", "zone-c"]
    assert not [e for e in result.events if e.reason == "Failover"], "the failover is not announced again"


def test_the_status_is_read_field_by_field() -> None:
    raw = {
        "phase": "Degraded",
        "knownZones": ["zone-a", "zone-b", "zone-c"],
        "replicas": "many",  # unreadable: dropped alone
        "unknown": True,  # unknown: skipped
        "zones": [
            {"name": "zone-a", "deployment": "shop-zone-a", "desiredReplicas": 2, "readyReplicas": 2, "nodes": 3,
             "readyNodes": 3, "healthy": True, "surprise": 1},
            {"name": "zone-b"},  # incomplete: this entry alone is dropped
        ],
        "rollout": {"targetRevision": "abc", "phase": "Halted", "haltedZone": "zone-a", "startedBy": "me"},
    }  # fmt: skip
    status, problems = read(ResilientSiteStatus, raw)
    assert status is not None
    assert (status.phase, status.known_zones, status.replicas) == ("Degraded", ["zone-a", "zone-b", "zone-c"], 0)
    assert [z.name for z in status.zones] == ["zone-a"]
    assert status.rollout is not None and status.rollout.halted_zone == "zone-a"
    assert any(p.startswith("status.replicas:") for p in problems)
    assert any(p.startswith("status.zones[1]:") for p in problems)
    assert not any("unknown" in p or "surprise" in p or "startedBy" in p for p in problems)


def test_a_status_that_is_no_object_reads_as_empty() -> None:
    raw: Any
    for raw in (None, [], "x", 3):
        status, problems = read(ResilientSiteStatus, raw)
        assert status is None and problems


def test_memory_read_keeps_what_it_can_of_every_list() -> None:
    status = after_zone_c_is_gone()
    broken = copy.deepcopy(status)
    broken["conditions"].append({"type": "Odd"})
    broken["singlePointsOfFailure"] = "nope"
    result = zone_c_gone(broken, T0 + timedelta(seconds=10))
    assert "zone-c" in result.status["knownZones"] and "shop-zone-c" not in deleted(result)


def test_a_garbage_or_naive_time_in_the_status_is_dropped_with_a_warning_not_a_crash() -> None:
    status = after_zone_c_is_gone()
    for bad in ("yesterday-ish", "2026-11-27T11:00:00", 12.5, ["x"]):
        broken = copy.deepcopy(status)
        for zone in broken["zones"]:
            zone["since"] = bad
        broken["conditions"][0]["lastTransitionTime"] = bad
        broken["rollout"] = {**broken.get("rollout", {}), "started": bad, "readySince": bad}
        result = zone_c_gone(broken, T0 + timedelta(seconds=10))  # no ValueError, no TypeError
        warnings = [f for f in result.status["singlePointsOfFailure"] if f["scope"] == "Status"]
        if not isinstance(bad, float):  # a number reads as a Unix time
            assert warnings and all(f["severity"] == "Warning" for f in warnings), bad
            assert any(f["name"] == "status.zones[2].since" for f in warnings)
        assert "shop-zone-c" not in deleted(result)


def test_status_times_are_aware_and_written_in_utc_to_the_second() -> None:
    status = after_zone_c_is_gone()
    status["zones"][2]["since"] = "2026-11-27T13:00:05.123+01:00"
    result = zone_c_gone(status, T0 + timedelta(seconds=10))
    assert next(z for z in result.status["zones"] if z["name"] == "zone-c")["since"] == "2026-11-27T12:00:05Z"


def test_a_zone_deployment_is_not_deleted_when_the_whole_memory_is_gone() -> None:
    """Pods may serve behind a partition: only positive evidence deletes a zone's Deployment."""
    after_zone_c_is_gone()
    lost: dict[str, Any]
    for lost in ({}, {"knownZones": "not a list"}, {"zones": None, "knownZones": []}):
        result = zone_c_gone(lost, T0 + timedelta(seconds=10))
        assert "shop-zone-c" not in deleted(result), lost
        zone_c = next(z for z in result.status["zones"] if z["name"] == "zone-c")
        assert (zone_c["nodes"], zone_c["healthy"]) == (0, False)
        assert "zone-c" in result.status["knownZones"]


def test_a_zone_that_left_spec_zones_is_deleted() -> None:
    observed = world(ZONES, {"zone-a": 3, "zone-b": 3, "zone-c": 2}, replicas={"zone-a": 3, "zone-b": 3, "zone-c": 2})
    result = decide(site({"replicas": 6, "zones": ["zone-a", "zone-b"]}, {}), observed, T0)
    assert deleted(result) == ["shop-zone-c"]


def test_a_zone_whose_nodes_have_been_gone_for_a_day_is_forgotten_and_its_deployment_deleted() -> None:
    status = after_zone_c_is_gone()
    zone_c = next(z for z in status["zones"] if z["name"] == "zone-c")
    assert zone_c["goneSince"] == "2026-11-27T12:00:05Z"
    day = T0 + timedelta(hours=24, seconds=5)
    assert "shop-zone-c" not in deleted(zone_c_gone(status, day)), "its pods still say Ready: they may serve"
    # The pods of a node that is gone are garbage-collected in time; then the zone is forgotten.
    world_now = world(ZONES, {"zone-a": 3, "zone-b": 3}, replicas={"zone-a": 3, "zone-b": 3, "zone-c": 2})
    gone = Observed(nodes=nodes({"zone-a": 3, "zone-b": 3}), pods=world_now.pods, children=world_now.children)
    almost = decide(site(SPEC, status), gone, T0 + timedelta(hours=24))
    assert "shop-zone-c" not in deleted(almost)
    later = decide(site(SPEC, almost.status), gone, day)
    assert deleted(later) == ["shop-zone-c"]
    assert "zone-c" not in later.status["knownZones"]
    assert [z["name"] for z in later.status["zones"]] == ["zone-a", "zone-b"]


def test_a_zone_spec_zones_lists_is_never_forgotten() -> None:
    listed = {"replicas": 6, "zones": ["zone-a", "zone-b", "zone-c"]}
    observed = world(ZONES, {"zone-a": 3, "zone-b": 3, "zone-c": 2}, replicas={"zone-a": 3, "zone-b": 3, "zone-c": 2})
    observed = Observed(nodes=nodes({"zone-a": 3, "zone-b": 3}), pods=observed.pods, children=observed.children)
    first = decide(site(listed, {}), observed, T0)
    later = decide(site(listed, first.status), observed, T0 + timedelta(days=3))
    assert later.status["phase"] != "Invalid" and not deleted(later)
    assert "zone-c" in later.status["knownZones"]


def test_an_invalid_site_holds_its_zones_in_its_own_order_and_reports_no_failover() -> None:
    """Bug: hold() split in name order and read spec.replicas where place() uses the site's order and
    its scale, so a held site with uneven replicas reported FailoverActive=True (recovering)."""
    from spofless.core.placement import split
    from spofless.core.site.decision import ApplyFailure

    for replicas, placed in ((7, split.spread(7, list(ZONES), "web/shop")), (1, {"zone-a": 1, "zone-b": 1})):
        spec = {"replicas": replicas, "zones": list(placed)}
        observed = world({z: 3 for z in placed}, placed)
        steady = decide(site(spec, {}), observed, T0).status
        steady = decide(site(spec, steady), observed, T0).status
        refused = ApplyFailure("ApplyRefused", "the API server refused Service shop: no", "Service")
        held = decide(site(spec, steady), observed, T0 + timedelta(seconds=5), refused)
        assert held.status["phase"] == "Invalid"
        failover = next(c for c in held.status["conditions"] if c["type"] == "FailoverActive")
        assert failover["status"] == "False", (replicas, failover)
        assert [z["desiredReplicas"] for z in held.status["zones"]] == list(placed.values())
