"""kube-score, as the chart's users run it, on what spofless ships: the chart (every way it renders),
install.yaml, and the examples with the children spofless makes of them (kube-score does not read a
ResilientSite, so it judges the site by the Deployments, Service and budget in the cluster).

No critical on spofless's own objects; every check ignored on purpose is explained in
docs/operations/hardening.md. kube-score is the version hack/tools/kube-score/go.mod pins
(hack/test.sh builds it and sets $KUBE_SCORE).
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import yaml

from spofless.core.observed.records import Node, Observed
from spofless.core.site.decision import Site, decide

from .render import ROOT, docs, run, template, tool

HARDENING = ROOT / "docs" / "operations" / "hardening.md"
EXAMPLES = sorted((ROOT / "examples").glob("*.yaml"))
# The example that shows a production site: it meets every check. The others keep their templates to
# their lesson (zones; a dependency); their criticals must be ones shop.yaml shows how to meet.
PRODUCTION = "shop.yaml"
CRITICAL = 1  # kube-score's grade
KUBE_VERSION = "v1.28"  # the oldest Kubernetes the chart supports


@pytest.fixture(scope="session")
def kube_score() -> str:
    return tool("KUBE_SCORE", "kube-score", "hack/test.sh builds it: build_kube_score in hack/lib/tools.sh")


def criticals(kube_score: str, objects: list[dict[str, Any]]) -> set[tuple[str, str]]:
    """(object, check id) of each critical kube-score finds; an ignored check is skipped, not critical."""
    done = run(kube_score, "score", "-", "--output-format", "json", "--kubernetes-version", KUBE_VERSION,
               stdin=yaml.safe_dump_all(objects), check=False)  # fmt: skip
    assert done.returncode in (0, 1), f"kube-score failed: {done.stderr}"
    return {
        (f"{o['type_meta']['kind']} {o['object_meta']['name']}", c["check"]["id"])
        for o in json.loads(done.stdout)
        for c in o["checks"]
        if c["grade"] == CRITICAL and not c["skipped"]
    }


def example(path: Path, namespace: str = "demo") -> list[dict[str, Any]]:
    """The example's objects as `kubectl apply -n demo -f` makes them, and the children spofless makes
    of its ResilientSites on a cluster of 3 zones of 3 nodes."""
    nodes = tuple(
        Node(name=f"{z}-{i}", labels={"topology.kubernetes.io/zone": z}, ready=True)
        for z in ("zone-a", "zone-b", "zone-c")
        for i in range(3)
    )
    objects = docs(path.read_text())
    for obj in objects:
        obj["metadata"].setdefault("namespace", namespace)
    children = [
        manifest
        for obj in objects
        if obj["kind"] == "ResilientSite"
        for manifest in decide(
            Site(
                name=obj["metadata"]["name"], namespace=namespace, uid="uid", generation=1, spec=obj["spec"], status={}
            ),
            Observed(nodes=nodes),
            datetime(2026, 1, 1, tzinfo=UTC),
        ).apply
    ]
    assert children or all(o["kind"] != "ResilientSite" for o in objects)
    return objects + children


def ignored(objects: list[dict[str, Any]]) -> set[str]:
    """The check ids named by kube-score/ignore annotations, on objects and their pod templates."""
    found: set[str] = set()
    for obj in objects:
        pod = obj.get("spec", {}).get("template", {})
        for meta in (obj["metadata"], pod.get("metadata", {})):
            value = (meta.get("annotations") or {}).get("kube-score/ignore", "")
            found |= {check.strip() for check in value.split(",") if check.strip()}
    return found


@pytest.mark.parametrize(
    "values",
    [
        [],
        ["networkPolicy.enabled=true"],
        ["networkPolicy.enabled=true", "networkPolicy.apiServer.cidrs={10.0.0.1/32}"],
        ["watchNamespaces={web,shop}"],
        ["metrics.prometheusRule.enabled=true", "metrics.grafanaDashboard.enabled=true"],
    ],
    ids=str,
)
def test_the_chart_has_no_critical(helm: str, kube_score: str, values: list[str]) -> None:
    objects = template(helm, *[f for v in values for f in ("--set", v)])
    assert criticals(kube_score, objects) == set()


def test_install_yaml_has_no_critical(kube_score: str) -> None:
    assert criticals(kube_score, docs((ROOT / "manifests" / "install.yaml").read_text())) == set()


def test_the_network_policy_check_is_ignored_only_while_the_policy_is_off(helm: str, kube_score: str) -> None:
    def deployment(objects: list[dict[str, Any]]) -> dict[str, Any]:
        return next(o for o in objects if o["kind"] == "Deployment")

    assert ignored([deployment(template(helm))]) == {"pod-networkpolicy"}
    enabled = template(helm, "--set", "networkPolicy.enabled=true")
    assert ignored(enabled) == set()
    without_it = [o for o in enabled if o["kind"] != "NetworkPolicy"]
    assert ("Deployment spofless", "pod-networkpolicy") in criticals(kube_score, without_it), "the check is live"


def test_the_production_example_has_no_critical(kube_score: str) -> None:
    assert criticals(kube_score, example(ROOT / "examples" / PRODUCTION)) == set()


@pytest.mark.parametrize("path", [p for p in EXAMPLES if p.name != PRODUCTION], ids=lambda p: p.name)
def test_the_short_examples_criticals_are_what_the_production_one_meets(kube_score: str, path: Path) -> None:
    """blog.yaml and catalog.yaml keep their pod templates to their lesson: each critical they get is a
    check that shop.yaml passes, so the answer is one file away, and the docs say so."""
    found = {check for _, check in criticals(kube_score, example(path))}
    assert found, f"{path.name} meets kube-score now: add it to the production examples"
    shop = example(ROOT / "examples" / PRODUCTION)
    assert found.isdisjoint(check for _, check in criticals(kube_score, shop))
    assert path.name in HARDENING.read_text(), f"docs/operations/hardening.md does not explain {path.name}"


def test_every_ignored_check_is_explained(helm: str) -> None:
    objects = template(helm) + [o for p in EXAMPLES for o in example(p)]
    explained = set(re.findall(r"`([a-z0-9-]+)`", HARDENING.read_text()))
    assert ignored(objects), "the annotations were found"
    assert ignored(objects) <= explained, f"kube-score/ignore without a word in {HARDENING.name}"
