"""What a site remembers between passes: its last status, read field by field, so that nothing the
API server keeps in it (an unknown field, a bad time) can cost the site the rest of its memory."""

from __future__ import annotations

from typing import Any

from spofless.core.model import reading
from spofless.core.model.status import Finding, ResilientSiteStatus


def previous_status(raw: Any) -> tuple[ResilientSiteStatus, list[Finding]]:
    """The status written last time, read field by field (`model.reading`): an unknown field is
    skipped, an unreadable one dropped with a Warning finding of scope Status, and the rest stands.
    kopf's own bookkeeping (status.kopf) is no part of it."""
    kept = {k: v for k, v in raw.items() if k != "kopf"} if isinstance(raw, dict) else raw
    status, problems = reading.read(ResilientSiteStatus, kept)
    warnings = [
        Finding(scope="Status", name=p.partition(":")[0], severity="Warning", message=f"{p}: it is written anew")
        for p in problems
    ]
    return status or ResilientSiteStatus(), warnings
