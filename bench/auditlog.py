"""Reading the operator's writes out of kube-apiserver's audit log: one rule for every bench."""

from __future__ import annotations

from collections import Counter
from typing import Any

WRITES = {"create", "update", "patch", "delete", "deletecollection"}


def writes(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The write requests among audit events, each once (its completed stage)."""
    return [e for e in events if e["verb"] in WRITES and e.get("stage", "ResponseComplete") == "ResponseComplete"]


def what(event: dict[str, Any]) -> str:
    """A write as `verb resource[/subresource]`, dry runs apart (the audit log marks them in the URI)."""
    ref = event.get("objectRef") or {}
    resource = ref.get("resource", "?") + (f"/{ref['subresource']}" if ref.get("subresource") else "")
    dry = " (dry run)" if "dryRun=All" in event.get("requestURI", "") else ""
    return f"{event['verb']} {resource}{dry}"


def by_what(writes_: list[dict[str, Any]]) -> dict[str, int]:
    """How many writes of each kind (`what`), the most frequent first."""
    return dict(Counter(what(e) for e in writes_).most_common())
