"""Read-your-writes: what the operator just wrote, laid over the watch indices until they show it.

An index lags behind the operator's own writes, by seconds under load. A pass that read the lagging
index as the truth would create a child again, announce a move twice, re-halt a rollout it just
resumed, or start from a status it has already replaced. So every write leaves its result here,
keyed by object, with the resourceVersion it produced; a pass reads the index with these laid over
it; an entry goes as soon as the index shows that version or a newer one (a watch event for the
object), and after MAX_AGE at the latest.

resourceVersions are compared as numbers. Kubernetes calls them opaque; every API server backed by
etcd makes them etcd revisions, which only grow. Where one is not a number, only equality counts:
the entry then stays until the index shows exactly what was written, or MAX_AGE.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from spofless.core.observed.records import Child

SiteKey = tuple[str, str]  # (namespace, name)
ChildKey = tuple[str, str]  # (kind, name)
MAX_AGE = 300.0  # seconds: no watch is that late; an entry this old is dropped whatever the index says


def caught_up(indexed: str, written: str) -> bool:
    """True when the index shows `written` or something newer."""
    if indexed.isdigit() and written.isdigit():
        return int(indexed) >= int(written)
    return indexed == written


@dataclass(frozen=True)
class _Written:
    version: str  # the resourceVersion the write produced
    child: Child | None  # what now stands (None: deleted)
    at: float


@dataclass
class Overlay:
    clock: Callable[[], float] = time.monotonic
    _children: dict[SiteKey, dict[ChildKey, _Written]] = field(default_factory=dict)
    _statuses: dict[SiteKey, tuple[str, dict[str, Any], float]] = field(default_factory=dict)

    # --- writes ------------------------------------------------------------------------------

    def wrote(self, site: SiteKey, child: Child) -> None:
        """A child applied or scaled: `child` as the API server stored it."""
        self._children.setdefault(site, {})[(child.kind, child.name)] = _Written(
            child.resource_version, child, self.clock()
        )

    def deleted(self, site: SiteKey, kind: str, name: str, version: str = "") -> None:
        self._children.setdefault(site, {})[(kind, name)] = _Written(version, None, self.clock())

    def wrote_status(self, site: SiteKey, version: str, status: dict[str, Any]) -> None:
        self._statuses[site] = (version, status, self.clock())

    # --- watch events --------------------------------------------------------------------------

    def saw(self, site: SiteKey, kind: str, name: str, version: str, gone: bool = False) -> None:
        """The watch delivered this object at `version` (or its deletion): a write it covers is done."""
        entries = self._children.get(site)
        held = entries.get((kind, name)) if entries else None
        if held is None or entries is None:
            return
        if gone or not held.version or caught_up(version, held.version):
            del entries[(kind, name)]
            if not entries:
                del self._children[site]

    # --- reads ---------------------------------------------------------------------------------

    def children(self, site: SiteKey, indexed: Iterable[Child]) -> tuple[Child, ...]:
        """The site's children as the index shows them, with the operator's own writes over them."""
        entries = self._children.get(site)
        if not entries:
            return tuple(indexed)
        now = self.clock()
        out = {(c.kind, c.name): c for c in indexed}
        for key, held in list(entries.items()):
            have = out.get(key)
            stale = now - held.at > MAX_AGE
            if stale or (have is not None and held.version and caught_up(have.resource_version, held.version)):
                del entries[key]  # the index has caught up (or never will: then it is the truth)
                continue
            if held.child is None:
                out.pop(key, None)
            else:
                out[key] = held.child
        if not entries:
            del self._children[site]
        return tuple(out.values())

    def status(self, site: SiteKey, indexed_version: str, indexed: Mapping[str, Any]) -> Mapping[str, Any]:
        """The site's status: the one last written until the index shows that write."""
        held = self._statuses.get(site)
        if held is None:
            return indexed
        version, status, at = held
        if caught_up(indexed_version, version) or self.clock() - at > MAX_AGE:
            del self._statuses[site]
            return indexed
        return status

    def forget(self, site: SiteKey) -> None:
        self._children.pop(site, None)
        self._statuses.pop(site, None)

    def clear(self) -> None:
        self._children.clear()
        self._statuses.clear()

    def __len__(self) -> int:
        return sum(len(e) for e in self._children.values()) + len(self._statuses)
