"""Bad input: refused by the API with a readable message, or reported Invalid in status; in both
cases nothing that already runs is touched."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from .cluster import KubectlError, apply, condition, stays, wait_events
from .conftest import zones
from .sites import TEMPLATE, deployments, manifest, ready_pods, replicas_by_zone, wait_phase


def _no_containers() -> dict[str, Any]:
    template = copy.deepcopy(TEMPLATE)
    template["spec"]["containers"] = []
    return {"template": template}


REFUSED = [
    ("negative replicas", {"replicas": -1}, "should be greater than or equal to 0"),
    ("minZones 0", {"minZones": 0}, "should be greater than or equal to 1"),
    (
        "minZones above the listed zones",
        {"minZones": 3, "zones": ["zone-a", "zone-b"]},
        "minZones cannot be larger than the number of zones",
    ),
    ("a zone listed twice", {"zones": ["zone-a", "zone-a"]}, "must not list a zone twice"),
    ("unknown field", {"replica": 3}, 'unknown field "spec.replica"'),
    ("no containers", _no_containers(), "should have at least 1 items"),
    ("bad port", {"service": {"ports": [{"port": 70000}]}}, "should be less than or equal to 65535"),
    ("bad protocol", {"service": {"ports": [{"port": 80, "protocol": "HTTP"}]}}, "Unsupported value"),
    ("bad topology key", {"topologyKey": "not a label"}, "spec.topologyKey"),
    (
        "a data center listed twice",
        {"dataCenters": {"members": ["dc1", "dc1"], "hostname": "shop.example.com"}},
        "must not list a data center twice",
    ),
    (
        "minDataCenters above the members",
        {"dataCenters": {"members": ["dc1"], "hostname": "shop.example.com"}},
        "minDataCenters cannot be larger than the number of members listed",
    ),
    (
        "a hostname that is no DNS name",
        {"dataCenters": {"members": ["dc1", "dc2"], "hostname": "Shop_1"}},
        "must be a DNS name such as shop.example.com",
    ),
    (
        "a DNS TTL of 0",
        {"dataCenters": {"members": ["dc1", "dc2"], "hostname": "shop.example.com", "ttlSeconds": 0}},
        "should be greater than or equal to 1",
    ),
]


@pytest.fixture
def running(ns: str, healthy_nodes: None) -> dict[str, Any]:
    """A healthy site already serving, which no bad update may disturb."""
    apply(manifest("shop", ns, replicas=3))
    wait_phase("shop", ns, "Redundant", readyReplicas=3)
    return {
        "replicas": replicas_by_zone(ns, "shop"),
        "uids": {z: d["metadata"]["uid"] for z, d in deployments(ns, "shop").items()},
    }


def untouched(ns: str, before: dict[str, Any]) -> bool:
    """True while the running children are as they were: same replicas, same objects, 3 ready pods."""
    return (
        replicas_by_zone(ns, "shop") == before["replicas"]
        and {z: d["metadata"]["uid"] for z, d in deployments(ns, "shop").items()} == before["uids"]
        and len(ready_pods(ns, "shop")) == 3
    )


@pytest.mark.parametrize(("case", "spec", "words"), REFUSED, ids=[c[0] for c in REFUSED])
def test_the_api_refuses_it_with_a_readable_message(
    ns: str, running: dict[str, Any], case: str, spec: dict[str, Any], words: str
) -> None:
    with pytest.raises(KubectlError) as err:
        apply(manifest("shop", ns, **{"replicas": 3, **spec}))
    assert words in err.value.stderr, err.value.stderr
    assert untouched(ns, running)


def test_an_over_long_name_is_refused(ns: str, operator: object) -> None:
    with pytest.raises(KubectlError) as err:
        apply(manifest("s" * 64, ns))
    assert "must be a DNS label of at most 63 characters" in err.value.stderr


def test_a_zone_without_nodes_is_reported_invalid_and_changes_nothing(ns: str, running: dict[str, Any]) -> None:
    first = zones()[0]
    apply(manifest("shop", ns, replicas=3, zones=[first, "zone-nowhere"]))
    wait_phase("shop", ns, "Invalid")
    reconciled = condition("shop", ns, "Reconciled")
    assert (reconciled["status"], reconciled["reason"]) == ("False", "UnknownZone")
    assert "zone-nowhere" in reconciled["message"]
    wait_events(ns, "UnknownZone", name="shop")
    stays("running children untouched", lambda: untouched(ns, running), seconds=5)
    # Fixing the spec recovers without anything recreated.
    apply(manifest("shop", ns, replicas=3))
    wait_phase("shop", ns, "Redundant", readyReplicas=3)
    assert untouched(ns, running)


def test_a_template_the_api_refuses_in_a_deployment_is_reported_invalid(ns: str, running: dict[str, Any]) -> None:
    site = manifest("shop", ns, replicas=3)
    site["spec"]["template"] = copy.deepcopy(TEMPLATE)
    site["spec"]["template"]["spec"]["containers"][0]["name"] = "Web_1"  # not a DNS label: the Deployment is refused
    apply(site)
    wait_phase("shop", ns, "Invalid")
    reconciled = condition("shop", ns, "Reconciled")
    assert reconciled["reason"] == "ApplyRefused" and "Web_1" in reconciled["message"]
    assert untouched(ns, running)
    assert all(
        d["spec"]["template"]["spec"]["containers"][0]["name"] == "web" for d in deployments(ns, "shop").values()
    )
