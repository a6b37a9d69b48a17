import json
from pathlib import Path
from typing import Any

import yaml

from spofless.core.model import crd

ROOT = Path(__file__).resolve().parents[2]


def test_committed_crd_matches_the_models() -> None:
    committed = (ROOT / "crds" / "resilientsite.yaml").read_text()
    assert committed == crd.crd_yaml(), "crds/ is stale: run `spofless crd > crds/resilientsite.yaml`"


def _walk(node: Any) -> list[dict[str, Any]]:
    if isinstance(node, dict):
        return [node] + [n for v in node.values() for n in _walk(v)]
    if isinstance(node, list):
        return [n for v in node for n in _walk(v)]
    return []


def test_schema_is_structural() -> None:
    schema = crd.site_schema()
    text = json.dumps(schema)
    for word in ("$ref", "anyOf", "allOf", "oneOf", "title", "const"):
        assert f'"{word}"' not in text
    for node in _walk(schema["properties"]["spec"]):
        if "properties" in node:
            assert node.get("type") == "object"
            assert "additionalProperties" not in node


def test_crd_has_columns_short_names_and_status() -> None:
    version = crd.crd()["spec"]["versions"][0]
    assert [c["name"] for c in version["additionalPrinterColumns"]] == [
        "Replicas",
        "Ready",
        "Zones",
        "SPOF",
        "Phase",
        "Age",
    ]
    assert version["subresources"] == {
        "status": {},
        "scale": {
            "specReplicasPath": ".spec.replicas",
            "statusReplicasPath": ".status.replicas",
            "labelSelectorPath": ".status.selector",
        },
    }
    assert "rsite" in crd.crd()["spec"]["names"]["shortNames"]


def test_every_spec_field_is_explained() -> None:
    spec = crd.site_schema()["properties"]["spec"]["properties"]
    assert all(prop.get("description") for prop in spec.values()), [
        k for k, v in spec.items() if not v.get("description")
    ]


def test_yaml_round_trips() -> None:
    assert yaml.safe_load(crd.crd_yaml()) == crd.crd()
