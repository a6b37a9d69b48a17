from typing import Any

from spofless.core.model import names
from spofless.core.model.spec import ResilientSiteSpec
from spofless.core.site import owned

from .builders import TEMPLATE

OWNER = owned.Owner(name="shop", namespace="web", uid="uid-1")


def spec(**extra: object) -> ResilientSiteSpec:
    return ResilientSiteSpec.model_validate({"template": TEMPLATE, **extra})


def test_one_deployment_per_zone_and_one_budget_and_one_service_per_site() -> None:
    out = owned.children(OWNER, spec(), owned.Wanted({"zone-a": 2, "zone-b": 1}))
    kinds = [(m["kind"], m["metadata"]["name"]) for m in out]
    assert kinds == [
        ("Deployment", "shop-zone-a"),
        ("Deployment", "shop-zone-b"),
        ("PodDisruptionBudget", "shop"),
        ("Service", "shop"),
    ]
    for m in out:
        assert m["metadata"]["ownerReferences"][0]["uid"] == "uid-1"
        assert m["metadata"]["labels"][names.LABEL_SITE] == "shop"


def test_deployment_is_pinned_to_its_zone_and_spread_over_its_nodes() -> None:
    dep = owned.deployment(OWNER, spec(), "zone-a", 3)
    pod = dep["spec"]["template"]["spec"]
    terms = pod["affinity"]["nodeAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"]["nodeSelectorTerms"]
    assert terms == [
        {"matchExpressions": [{"key": "topology.kubernetes.io/zone", "operator": "In", "values": ["zone-a"]}]}
    ]
    spread = pod["topologySpreadConstraints"][-1]
    assert spread["topologyKey"] == "kubernetes.io/hostname"
    assert spread["labelSelector"]["matchLabels"] == dep["spec"]["selector"]["matchLabels"]
    assert dep["spec"]["replicas"] == 3
    assert dep["spec"]["template"]["metadata"]["labels"][names.LABEL_ZONE] == "zone-a"


def test_user_node_affinity_is_kept_and_narrowed_to_the_zone() -> None:
    template: dict[str, Any] = {
        "spec": {
            "containers": [{"name": "web", "image": "nginx"}],
            "affinity": {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": [
                {"matchExpressions": [{"key": "disk", "operator": "In", "values": ["ssd"]}]}
            ]}}},
        }
    }  # fmt: skip
    dep = owned.deployment(OWNER, spec(template=template), "zone-a", 1)
    term = dep["spec"]["template"]["spec"]["affinity"]["nodeAffinity"][
        "requiredDuringSchedulingIgnoredDuringExecution"
    ]["nodeSelectorTerms"][0]
    assert [e["key"] for e in term["matchExpressions"]] == ["disk", "topology.kubernetes.io/zone"]
    assert (
        template["spec"]["affinity"]["nodeAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"][
            "nodeSelectorTerms"
        ][0]["matchExpressions"][-1]["key"]
        == "disk"
    )  # input untouched


def test_budget_never_blocks_draining_a_dead_node() -> None:
    pdb = owned.disruption_budget(OWNER, spec(disruptionBudget={"maxUnavailable": 2}))
    assert pdb["spec"]["unhealthyPodEvictionPolicy"] == "AlwaysAllow"
    assert pdb["spec"]["maxUnavailable"] == 2


def test_one_budget_covers_the_site_in_every_zone() -> None:
    pdb = owned.disruption_budget(OWNER, spec())
    assert pdb["metadata"]["name"] == "shop"
    assert pdb["spec"]["selector"] == {"matchLabels": {names.LABEL_SITE: "shop"}}
    assert owned.disruption_budget(OWNER, spec(), max_unavailable=0)["spec"]["maxUnavailable"] == 0


def test_service_ports_default_to_the_container_ports() -> None:
    svc = owned.service(OWNER, spec())
    assert svc["spec"]["ports"] == [{"port": 8080, "targetPort": 8080, "protocol": "TCP"}]
    assert svc["spec"]["selector"] == names.site_labels("shop")


def test_service_ports_from_the_spec() -> None:
    svc = owned.service(OWNER, spec(service={"type": "NodePort", "ports": [{"port": 80, "targetPort": 8080}]}))
    assert svc["spec"]["ports"] == [{"port": 80, "targetPort": 8080, "protocol": "TCP"}]
    assert svc["spec"]["type"] == "NodePort"


def test_no_port_anywhere_makes_a_headless_service() -> None:
    svc = owned.service(OWNER, spec(template={"spec": {"containers": [{"name": "w", "image": "busybox"}]}}))
    assert svc["spec"]["clusterIP"] == "None"
    assert "ports" not in svc["spec"]


def test_a_childs_fingerprint_ignores_its_resource_version_only() -> None:
    from spofless.core.observed.parse import child_from
    from spofless.operator.compact import fingerprint

    body = owned.deployment(OWNER, spec(), "zone-a", 2)
    base = {**body, "metadata": {**body["metadata"], "resourceVersion": "1"}, "status": {"readyReplicas": 1}}
    bumped = {**base, "metadata": {**base["metadata"], "resourceVersion": "2"}, "status": {"readyReplicas": 2}}
    scaled = {**bumped, "spec": {**bumped["spec"], "replicas": 3}}
    assert fingerprint(child_from(base)) == fingerprint(child_from(bumped))
    assert fingerprint(child_from(base)) != fingerprint(child_from(scaled))
