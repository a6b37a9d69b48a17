"""How the kopf indices keep what they hold small: records as compact JSON text, parsed when read,
and fingerprints of what a pass reads of an object (a change elsewhere triggers no pass)."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterator, Mapping
from typing import Any

from spofless.core.observed import parse
from spofless.core.observed.records import Body, Child


class JsonText(Mapping[str, Any]):
    """A read-only JSON object kept as its compact text and parsed when read.

    An index keeps one body per child of every site; as text it takes about a sixth of the memory
    of the parsed dicts (measured on a Deployment: 1.7 kB against 11 kB), and a pass reads only a
    few of them."""

    __slots__ = ("text",)

    def __init__(self, body: Mapping[str, Any]) -> None:
        self.text = json.dumps(body, separators=(",", ":"), sort_keys=True)

    def parsed(self) -> dict[str, Any]:
        value: dict[str, Any] = json.loads(self.text)
        return value

    def __getitem__(self, key: str) -> Any:
        return self.parsed()[key]

    def get(self, key: str, default: Any = None) -> Any:
        return self.parsed().get(key, default)

    def __iter__(self) -> Iterator[str]:
        return iter(self.parsed())

    def __len__(self) -> int:
        return len(self.parsed())

    def __eq__(self, other: object) -> bool:
        if isinstance(other, JsonText):
            return self.text == other.text
        return isinstance(other, Mapping) and self.parsed() == dict(other)

    def __hash__(self) -> int:
        return hash(self.text)


def plain(body: Mapping[str, Any]) -> dict[str, Any]:
    """A body as a dict, parsed once."""
    return body.parsed() if isinstance(body, JsonText) else dict(body)


def child_from(body: Body) -> Child:
    """A child as the index keeps it: its projection, compact."""
    child = parse.child_from(body)
    return dataclasses.replace(child, body=JsonText(child.body))


def with_replicas(child: Child, replicas: int, version: str) -> Child:
    """A Deployment's record after a write through its scale subresource."""
    body = plain(child.body)
    body.setdefault("spec", {})["replicas"] = replicas
    body.setdefault("metadata", {})["resourceVersion"] = version
    return dataclasses.replace(child, body=JsonText(body))


def fingerprint(child: Child) -> int:
    """What a decision reads of a child, as one number: its body without the resourceVersion,
    which changes with every status update the child's controller writes."""
    body = plain(child.body)
    body["metadata"] = {k: v for k, v in body.get("metadata", {}).items() if k != "resourceVersion"}
    return hash(json.dumps(body, sort_keys=True, default=str))


def site_from(body: Body) -> JsonText:
    """A site as the reconciler reads it: identity, spec and status (kopf's annotations and managed
    fields dropped), compact: a pass parses it once."""
    keep = ("name", "namespace", "uid", "generation", "deletionTimestamp", "resourceVersion")
    return JsonText({**parse.projection(body, keep), "status": body.get("status") or {}})
