"""Time in the model: one aware-datetime type for every time the status keeps, read once at the edge.

The status is written by the operator but kept by the API server, where anything may be merged into
it (a hand edit, an older or newer spofless). So a time is parsed when the status is read
(`model.reading`): a value that is not an RFC 3339 time with a zone is dropped there, with a
warning, and the core only ever handles aware datetimes. On the wire a time is RFC 3339 in UTC, to
the second (as metav1.Time).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from pydantic import AfterValidator, AwareDatetime, PlainSerializer, WithJsonSchema


def text(moment: datetime) -> str:
    """RFC 3339 in UTC, to the second: 2026-11-27T12:00:00Z."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse(value: Any) -> datetime | None:
    """An aware datetime in UTC from an RFC 3339 string (or an aware datetime); None for anything
    else: empty, garbage, or a time without a zone (it could be any of 27 hours)."""
    if isinstance(value, datetime):
        moment = value
    elif isinstance(value, str) and value:
        try:
            moment = datetime.fromisoformat(value.replace("Z", "+00:00").replace("z", "+00:00"))
        except ValueError:
            return None
    else:
        return None
    if moment.tzinfo is None or moment.utcoffset() is None:
        return None
    return moment.astimezone(UTC)


def _in_utc(moment: datetime) -> datetime:
    return moment.astimezone(UTC)


# A time of the status: aware, in UTC, written as RFC 3339 to the second. Its schema stays a plain
# string, as the CRD has always had it (a format would have the API server refuse old values).
Time = Annotated[
    AwareDatetime,
    AfterValidator(_in_utc),
    PlainSerializer(text, return_type=str, when_used="json"),
    WithJsonSchema({"type": "string"}, mode="serialization"),
]
