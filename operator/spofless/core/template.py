"""The site's pod template: its schema in the CRD, its revision, and what it says about readiness."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from typing import Any

from spofless.core.api import Finding


def revision(template: Mapping[str, Any]) -> str:
    """A short, stable hash of the template as written: two templates roll out as one revision
    exactly when they are equal."""
    text = json.dumps(template, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:10]


def containers_without_readiness_probe(template: Mapping[str, Any]) -> list[str]:
    """Names of the containers a pod's readiness does not check: for them, ready means started."""
    spec = template.get("spec")
    containers = spec.get("containers") if isinstance(spec, Mapping) else None
    if not isinstance(containers, list):
        return []
    return [str(c.get("name", "?")) for c in containers if isinstance(c, Mapping) and not c.get("readinessProbe")]


def readiness_findings(template: Mapping[str, Any]) -> list[Finding]:
    """A Warning per template whose containers lack a readiness probe: every ready count is then optimistic."""
    missing = containers_without_readiness_probe(template)
    if not missing:
        return []
    return [
        Finding(
            scope="Readiness",
            name=", ".join(missing),
            severity="Warning",
            message=f"container(s) {', '.join(missing)} have no readiness probe: a pod counts as ready once it "
            "has started, so ready counts and the single-point-of-failure picture are optimistic",
        )
    ]
