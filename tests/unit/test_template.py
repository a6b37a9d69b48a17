"""The template's schema in the CRD, its revision, and the readiness warning; every template the
schema admits goes through the whole decision without an error."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml
from hypothesis import HealthCheck, given, settings

from spofless.core.judgement import findings
from spofless.core.model import crd, podtemplate_schema, template
from spofless.core.model.spec import TEMPLATE_SCHEMA, ResilientSiteSpec
from spofless.core.site.decision import decide

from .builders import T0, site, world
from .schema_strategy import from_schema

ZONES = {"zone-a": 3, "zone-b": 3, "zone-c": 3}
EVEN = {"zone-a": 2, "zone-b": 2, "zone-c": 2}


def _paths(node: dict[str, Any], at: str = "") -> dict[str, Any]:
    out = {at: node.get("type", "int-or-string" if node.get("x-kubernetes-int-or-string") else None)}
    for name, child in node.get("properties", {}).items():
        out |= _paths(child, f"{at}.{name}")
    if "items" in node:
        out |= _paths(node["items"], f"{at}[]")
    if isinstance(node.get("additionalProperties"), dict):
        out |= _paths(node["additionalProperties"], f"{at}{{}}")
    return out


def test_the_crd_embeds_the_generated_pod_template_schema() -> None:
    embedded = crd.site_schema()["properties"]["spec"]["properties"]["template"]
    generated = _paths(podtemplate_schema.SCHEMA)
    assert _paths(embedded) == generated
    assert len(generated) > 500  # the whole PodSpec, not a hand-written sketch
    assert "x-kubernetes-preserve-unknown-fields" not in embedded  # unknown fields are refused, not kept
    labels = embedded["properties"]["metadata"]["properties"]["labels"]
    assert labels == {"type": "object", "additionalProperties": {"type": "string"}}


def test_the_crd_stays_far_below_the_size_the_api_server_stores() -> None:
    size = len(json.dumps(crd.crd()))
    assert size < 512 * 1024, size  # etcd refuses objects over 1.5 MiB; leave room for versions to come


def test_the_revision_depends_on_content_not_key_order() -> None:
    a = {"spec": {"containers": [{"name": "web", "image": "x"}]}, "metadata": {"labels": {"a": "1"}}}
    b = {"metadata": {"labels": {"a": "1"}}, "spec": {"containers": [{"image": "x", "name": "web"}]}}
    assert template.revision(a) == template.revision(b)
    assert template.revision(a) != template.revision({**a, "metadata": {"labels": {"a": "2"}}})


def test_containers_without_a_readiness_probe_are_a_warning() -> None:
    tpl = {
        "spec": {
            "containers": [
                {"name": "web", "image": "x"},
                {"name": "side", "image": "y", "readinessProbe": {"exec": {"command": ["true"]}}},
            ]
        }
    }
    found = findings.readiness_findings(tpl)
    assert [(f.scope, f.name, f.severity) for f in found] == [("Readiness", "web", "Warning")]
    probed = {"spec": {"containers": [{"name": "web", "image": "x", "readinessProbe": {"httpGet": {"port": 80}}}]}}
    assert findings.readiness_findings(probed) == []


def test_the_readiness_warning_shows_in_the_status_but_is_no_spof() -> None:
    status = decide(site({"replicas": 6}), world(ZONES, EVEN), T0).status
    readiness = [f for f in status["singlePointsOfFailure"] if f["scope"] == "Readiness"]
    assert readiness and readiness[0]["severity"] == "Warning"
    assert status["phase"] == "Redundant" and status["spof"] is False


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(tpl=from_schema(TEMPLATE_SCHEMA))
def test_every_template_the_schema_admits_goes_through_the_decision(tpl: dict[str, Any]) -> None:
    json.dumps(tpl)  # what the API server would store
    first = decide(site({"replicas": 6, "template": tpl}), world(ZONES, {}, replicas={}), T0)
    assert first.status["phase"] in ("Pending", "Invalid")
    if first.status["phase"] == "Pending":
        pods = [m["spec"]["template"] for m in first.apply if m["kind"] == "Deployment"]
        assert len(pods) == 3
        assert all(p["spec"]["containers"] == tpl["spec"]["containers"] for p in pods)
    steady = decide(site({"replicas": 6, "template": tpl}, first.status), world(ZONES, EVEN), T0)
    json.dumps(steady.status)


def test_the_examples_are_valid_sites_with_readiness_probes() -> None:
    for path in sorted((Path(__file__).resolve().parents[2] / "examples").glob("*.yaml")):
        for doc in yaml.safe_load_all(path.read_text()):
            if doc and doc.get("kind") == "ResilientSite":
                spec = ResilientSiteSpec.model_validate(doc["spec"])
                assert findings.readiness_findings(spec.template) == [], path.name


def test_the_production_example_meets_the_restricted_pod_security_profile() -> None:
    path = Path(__file__).resolve().parents[2] / "examples" / "shop.yaml"
    (shop,) = [d for d in yaml.safe_load_all(path.read_text()) if d["kind"] == "ResilientSite"]
    pod = shop["spec"]["template"]["spec"]
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["seccompProfile"]["type"] == "RuntimeDefault"
    for container in pod["containers"]:
        ctx = container["securityContext"]
        assert ctx["allowPrivilegeEscalation"] is False and ctx["capabilities"]["drop"] == ["ALL"]
        assert container["resources"]["requests"] and container["resources"]["limits"]
        assert container["readinessProbe"] and container["livenessProbe"]
