"""Every EndpointSlice the operator serves, from its own list-and-watch (reflector.py), not kopf's:
a zone's loss changes every site's slices at once.

One event does what three kopf handlers did:
- a site's own slice is filed under its site, and a change to its endpoints queues the site once
  the burst has settled;
- any other slice is filed under its Service for the sites that depend on it
  (dependency_records.py), and a change to its endpoints passes exactly those sites.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from spofless.core.observed import parse, records
from spofless.operator import dependency_records
from spofless.operator.engine import Engine
from spofless.operator.objectindex import ObjectIndex
from spofless.operator.podwatch import site_of

SiteKey = tuple[str, str]
Endpoints = tuple[records.Endpoint, ...]


@dataclass
class EndpointSlices:
    engine: Engine
    dependents: Mapping[tuple[str, str], Iterable[SiteKey]]  # (namespace, Service) -> the sites naming it
    sites: ObjectIndex[SiteKey, Endpoints] = field(default_factory=ObjectIndex)  # a site's own, per site
    services: ObjectIndex[dependency_records.IndexKey, Endpoints] = field(default_factory=ObjectIndex)  # the rest
    _seen: dict[str, _Read] = field(default_factory=dict)  # slice uid -> what a pass read of it

    def apply(self, uid: str, obj: Mapping[str, Any] | None) -> None:
        now = (
            None if obj is None else _Read(site_of(obj), dependency_records.trigger_key(obj), parse.endpoints_from(obj))
        )
        held = self._seen.pop(uid, None)
        if now is not None:
            self._seen[uid] = now
        self._file(uid, now)
        if held != now:  # else nothing a pass reads changed (a resourceVersion, a hint)
            self._pass_readers(held, now)

    def _file(self, uid: str, read: _Read | None) -> None:
        """A site's own slice under its site; any other under its Service, for its dependents."""
        own: dict[SiteKey, Endpoints] = {}
        other: dict[dependency_records.IndexKey, Endpoints] = {}
        if read is not None and read.site is not None:
            own[read.site] = read.endpoints
        elif read is not None and read.service is not None:
            other[(*read.service, dependency_records.ENDPOINTS)] = read.endpoints
        self.sites.put(uid, own)
        self.services.put(uid, other)

    def _pass_readers(self, held: _Read | None, now: _Read | None) -> None:
        """The site whose slice it is, once the burst settled; at once, the sites depending on its Service."""
        reads = [read for read in (held, now) if read is not None]
        for site in {read.site for read in reads if read.site is not None}:
            self.engine.enqueue_settled(site, "endpointslices")
        for service in {read.service for read in reads if read.service is not None}:
            for dependent in self.dependents.get(service, ()):
                self.engine.enqueue(dependent, "dependency")


@dataclass(frozen=True)
class _Read:
    site: SiteKey | None  # the site whose own slice this is
    service: tuple[str, str] | None  # (namespace, Service) it belongs to
    endpoints: Endpoints
