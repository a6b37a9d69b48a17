"""Generates the ResilientSite CustomResourceDefinition from the pydantic models.

Pydantic emits JSON Schema; Kubernetes wants a structural OpenAPI v3 subset: no $ref,
no anyOf-with-null for optionals, no titles, and its own x-kubernetes-* extensions.
"""

from __future__ import annotations

from typing import Any

import yaml

from spofless.core.model.base import Model
from spofless.core.model.spec import GROUP, KIND, PLURAL, SHORT_NAMES, SINGULAR, VERSION, ResilientSiteSpec
from spofless.core.model.status import ResilientSiteStatus

# JSON Schema keywords a structural CRD schema keeps; everything else pydantic adds is dropped.
_KEPT = {
    "type", "description", "default", "enum", "format", "pattern", "minimum", "maximum",
    "minLength", "maxLength", "minItems", "maxItems", "items", "properties", "required",
    "additionalProperties", "nullable",
}  # fmt: skip

_NAME_RULE = {
    "rule": "self.metadata.name.matches('^[a-z]([-a-z0-9]*[a-z0-9])?$') && size(self.metadata.name) <= 63",
    "message": "the site's name must be a DNS label of at most 63 characters that starts with a letter "
    "(lower-case letters, digits and '-'), because it names the site's Service",
    "reason": "FieldValueInvalid",
}

_PRINTER_COLUMNS = [
    {"name": "Replicas", "type": "integer", "jsonPath": ".spec.replicas"},
    {"name": "Ready", "type": "integer", "jsonPath": ".status.readyReplicas"},
    {"name": "Zones", "type": "integer", "jsonPath": ".status.readyZones", "description": "Zones with ready replicas"},
    {"name": "SPOF", "type": "boolean", "jsonPath": ".status.spof"},
    {"name": "Phase", "type": "string", "jsonPath": ".status.phase"},
    {"name": "Age", "type": "date", "jsonPath": ".metadata.creationTimestamp"},
]


def openapi_schema(model: type[Model]) -> dict[str, Any]:
    """The structural OpenAPI v3 schema of a model, every $ref inlined."""
    schema = model.model_json_schema(by_alias=True, mode="serialization")
    defs = schema.pop("$defs", {})
    return _structural(schema, defs)


def _structural(node: dict[str, Any], defs: dict[str, Any]) -> dict[str, Any]:
    extensions = {k: v for k, v in node.items() if k.startswith("x-kubernetes-")}
    if node.get("x-kubernetes-int-or-string"):
        return {k: v for k, v in node.items() if k in _KEPT} | extensions  # no type: an int or a string
    if "$ref" in node:
        resolved = _structural(defs[node["$ref"].split("/")[-1]], defs)
        # Field-level description and default win over the referenced model's.
        resolved.update({k: node[k] for k in ("description", "default") if k in node})
        return resolved | extensions
    if "anyOf" in node:
        return _any_of(node, defs) | extensions
    if "const" in node:
        node = {**node, "enum": [node["const"]]}
    out: dict[str, Any] = {}
    for key, value in node.items():
        if key not in _KEPT:
            continue
        if key == "properties":
            value = {name: _structural(prop, defs) for name, prop in value.items()}
        elif key in ("items", "additionalProperties") and isinstance(value, dict):
            value = _structural(value, defs)
        out[key] = value
    if "properties" in out or isinstance(out.get("additionalProperties"), bool):
        out.pop("additionalProperties", None)  # structural schemas forbid it beside properties
    out.setdefault("type", "object")
    if out["type"] == "object" and "properties" not in out and "additionalProperties" not in out:
        out["x-kubernetes-preserve-unknown-fields"] = True
    return out | extensions


def _any_of(node: dict[str, Any], defs: dict[str, Any]) -> dict[str, Any]:
    """Optional fields (X | None) become X; int | str becomes int-or-string."""
    options = [o for o in node["anyOf"] if o.get("type") != "null"]
    extras = {k: v for k, v in node.items() if k in ("description", "default") and v is not None}
    if node.get("x-kubernetes-int-or-string"):
        return {"x-kubernetes-int-or-string": True, **extras}
    if len(options) != 1:
        raise ValueError(f"cannot express anyOf {options} in a structural schema")
    merged = {**options[0], **{k: v for k, v in node.items() if k not in ("anyOf", "default", "title")}}
    return {**_structural(merged, defs), **extras}


def _without_defaults(node: Any) -> Any:
    """Status is the operator's to write; defaults there would fake an observation."""
    if isinstance(node, dict):
        return {k: _without_defaults(v) for k, v in node.items() if k != "default"}
    if isinstance(node, list):
        return [_without_defaults(v) for v in node]
    return node


def site_schema() -> dict[str, Any]:
    """The schema of a whole ResilientSite object."""
    spec = openapi_schema(ResilientSiteSpec)
    spec["required"] = ["template"]
    for name in ("service", "disruptionBudget", "failover", "rollout"):
        spec["properties"][name]["default"] = {}  # so their own defaults show in the stored object
    status = _without_defaults(openapi_schema(ResilientSiteStatus))
    # kopf keeps its own bookkeeping under status.kopf; the schema must not prune it.
    status["x-kubernetes-preserve-unknown-fields"] = True
    return {
        "type": "object",
        "description": "A web site run across availability zones so that losing any one pillar leaves it standing.",
        "required": ["spec"],
        "x-kubernetes-validations": [_NAME_RULE],
        "properties": {
            "apiVersion": {"type": "string"},
            "kind": {"type": "string"},
            "metadata": {"type": "object"},
            "spec": spec,
            "status": status,
        },
    }


def crd() -> dict[str, Any]:
    """The CustomResourceDefinition object."""
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": f"{PLURAL}.{GROUP}"},
        "spec": {
            "group": GROUP,
            "scope": "Namespaced",
            "names": {
                "kind": KIND,
                "plural": PLURAL,
                "singular": SINGULAR,
                "shortNames": SHORT_NAMES,
                "categories": ["all", "spofless"],
            },
            "versions": [
                {
                    "name": VERSION,
                    "served": True,
                    "storage": True,
                    "subresources": {
                        "status": {},
                        # kubectl scale and HorizontalPodAutoscalers; status.replicas and status.selector: see scale.py.
                        "scale": {
                            "specReplicasPath": ".spec.replicas",
                            "statusReplicasPath": ".status.replicas",
                            "labelSelectorPath": ".status.selector",
                        },
                    },
                    "additionalPrinterColumns": _PRINTER_COLUMNS,
                    "schema": {"openAPIV3Schema": site_schema()},
                }
            ],
        },
    }


def crd_yaml() -> str:
    """The CRD as the YAML checked in under crds/."""
    header = (
        "# Generated by `spofless crd` from operator/spofless/core/model/spec.py and status.py; do not edit by hand.\n"
    )
    return header + yaml.safe_dump(crd(), sort_keys=False, width=120)
