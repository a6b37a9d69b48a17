"""What the status says when a pass itself crashed: the last status, with Reconciled=False."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from spofless.core.model import times

MESSAGE_LIMIT = 400  # an exception's text can be long; the status stays readable


def crashed(raw: Any, message: Any, now: datetime, generation: Any) -> dict[str, Any]:
    """The status last written, whatever it holds, with `Reconciled=False` (reason InternalError) and
    the exception's message. Written when deciding raised: it must not depend on reading the status
    well, so it reads no more than the conditions' `type`, `status` and time, and never raises
    (at worst, the status is the Reconciled condition alone)."""
    try:
        text = str(message)
    except Exception:
        text = "(the exception cannot be shown)"
    text = text if len(text) <= MESSAGE_LIMIT else text[: MESSAGE_LIMIT - 3] + "..."
    try:
        stamp = times.text(now)
    except Exception:
        stamp = "1970-01-01T00:00:00Z"
    condition: dict[str, Any] = {
        "type": "Reconciled",
        "status": "False",
        "reason": "InternalError",
        "message": f"the operator failed deciding this site: {text}; it retries with backoff",
        "lastTransitionTime": stamp,
    }
    if isinstance(generation, int) and not isinstance(generation, bool):
        condition["observedGeneration"] = generation
    try:
        status = {k: v for k, v in raw.items() if k != "kopf"} if isinstance(raw, Mapping) else {}
        listed = status.get("conditions")
        conditions = [c for c in listed if isinstance(c, Mapping)] if isinstance(listed, list) else []
        old = next((c for c in conditions if c.get("type") == "Reconciled"), None)
        if old is not None and old.get("status") == "False" and times.parse(old.get("lastTransitionTime")):
            condition["lastTransitionTime"] = old["lastTransitionTime"]  # still False: no transition
        status["conditions"] = [*(dict(c) for c in conditions if c.get("type") != "Reconciled"), condition]
        return status
    except Exception:
        return {"conditions": [condition]}
