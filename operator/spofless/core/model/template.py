"""The site's pod template: its revision, and which containers it checks for readiness."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from typing import Any


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
