"""Hypothesis strategies for every value a structural CRD schema admits (the subset spofless uses)."""

from __future__ import annotations

import base64
from datetime import datetime
from typing import Any

from hypothesis import strategies as st

KEYS = st.text(st.characters(codec="ascii", categories=["L", "N"]), min_size=1, max_size=8)
SCALARS = st.one_of(st.none(), st.booleans(), st.integers(-5, 5), st.text(max_size=5))


def _string(node: dict[str, Any]) -> st.SearchStrategy[str]:
    if "enum" in node:
        return st.sampled_from(node["enum"])
    if node.get("format") == "date-time":
        return st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2100, 1, 1)).map(
            lambda t: t.strftime("%Y-%m-%dT%H:%M:%SZ")
        )
    if node.get("format") == "byte":
        return st.binary(max_size=6).map(lambda b: base64.b64encode(b).decode())
    if "pattern" in node:
        return st.from_regex(node["pattern"], fullmatch=True).filter(lambda s: len(s) <= node.get("maxLength", 99))
    return st.text(min_size=node.get("minLength", 0), max_size=min(node.get("maxLength", 12), 12))


def from_schema(node: dict[str, Any], depth: int = 0) -> st.SearchStrategy[Any]:
    """Values `node` admits. Optional properties are drawn rarely and deep levels stay small, so a
    draw from a schema as large as a PodSpec's stays quick while every field can appear."""
    if node.get("x-kubernetes-int-or-string"):
        text = st.from_regex(node["pattern"], fullmatch=True) if "pattern" in node else st.text(max_size=6)
        return st.one_of(st.integers(0, 70000), text)
    kind = node.get("type")
    if kind == "string":
        return _string(node)
    if kind == "integer":
        low = node.get("minimum", -(2**31) if node.get("format") == "int32" else -(2**53))
        high = node.get("maximum", 2**31 - 1 if node.get("format") == "int32" else 2**53)
        return st.integers(low, high)
    if kind == "number":
        return st.floats(allow_nan=False, allow_infinity=False)
    if kind == "boolean":
        return st.booleans()
    if kind == "array":
        return st.lists(
            from_schema(node["items"], depth + 1),
            min_size=node.get("minItems", 0),
            max_size=min(node.get("maxItems", 2), 2 if depth < 4 else 1),
        )
    if "properties" in node:
        return _object(node["properties"], frozenset(node.get("required", [])), depth)
    if "additionalProperties" in node:
        return st.dictionaries(KEYS, from_schema(node["additionalProperties"], depth + 1), max_size=2)
    return st.dictionaries(KEYS, SCALARS, max_size=2)  # x-kubernetes-preserve-unknown-fields


@st.composite
def _object(draw: st.DrawFn, props: dict[str, Any], required: frozenset[str], depth: int) -> dict[str, Any]:
    out = {k: draw(from_schema(props[k], depth + 1)) for k in sorted(required)}
    optional = sorted(set(props) - required)
    if optional:
        chosen = draw(st.lists(st.sampled_from(optional), max_size=3 if depth < 3 else 1, unique=True))
        out |= {k: draw(from_schema(props[k], depth + 1)) for k in chosen}
    return out
