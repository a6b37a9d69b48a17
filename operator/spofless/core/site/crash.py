"""What the status says when a pass itself crashed: the last status, with Reconciled=False."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

MESSAGE_LIMIT = 400  # an exception's text can be long; the status stays readable


def crashed(raw: Mapping[str, Any], message: str, now: datetime, generation: int) -> dict[str, Any]:
    """The status last written, whatever it holds, with `Reconciled=False` (reason InternalError) and
    the exception's message. Written when deciding raised: it must not depend on reading the status
    well, so it never parses more than the conditions' `type` and `status`, and never raises."""
    status = {k: v for k, v in raw.items() if k != "kopf"} if isinstance(raw, Mapping) else {}
    conditions = [c for c in status.get("conditions") or [] if isinstance(c, Mapping)]
    text = message if len(message) <= MESSAGE_LIMIT else message[: MESSAGE_LIMIT - 3] + "..."
    old = next((c for c in conditions if c.get("type") == "Reconciled"), None)
    since = old.get("lastTransitionTime") if old is not None and old.get("status") == "False" else None
    condition = {
        "type": "Reconciled",
        "status": "False",
        "reason": "InternalError",
        "message": f"the operator failed deciding this site: {text}; it retries with backoff",
        "lastTransitionTime": since if isinstance(since, str) else now.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "observedGeneration": generation,
    }
    status["conditions"] = [*(dict(c) for c in conditions if c.get("type") != "Reconciled"), condition]
    return status
