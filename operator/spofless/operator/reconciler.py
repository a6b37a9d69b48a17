"""Carries out the core's decision for one site: applies what drifted, patches the status when it
changed, posts events. The only module that writes to the API on a site's behalf.

It also owns the pass policy: one pass per site at a time, requests arriving meanwhile folded into
one more pass, timed passes (a failback window ending), and one retry after a failed API call.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

from spofless.core.model.events import Event
from spofless.core.observed.records import Child, Observed
from spofless.core.site import decision
from spofless.kube import Api, Failure, Refused, describe, failure
from spofless.operator import metrics
from spofless.operator.compact import plain

SiteKey = tuple[str, str]  # (namespace, name)
ChildKey = tuple[str, str]  # (kind, name) within the site's namespace
Poster = Callable[[Mapping[str, Any], Event], None]
Loader = Callable[[], Awaitable[tuple[Mapping[str, Any], Observed] | None]]

RETRY_SECONDS = 5.0  # after a pass failed on an API call
INDEX_LAG_SECONDS = 60.0  # how long a child we created may stay unseen by the index before it is made again
# A first rollout's progress (ready counts while the phase stays Pending) is written at most this
# often per site: every pod turning ready would be a write. The phase change itself is never held.
PROGRESS_SECONDS = 5.0
MOVES = ("Failover", "Failback", "Scaled")  # events that announce an apply


def covers(want: Any, have: Any) -> bool:
    """True when every field of `want` is in `have` with the same value (the API adds defaults)."""
    if isinstance(want, dict):
        return isinstance(have, Mapping) and all(k in have and covers(v, have[k]) for k, v in want.items())
    if isinstance(want, list):
        return isinstance(have, list) and len(want) == len(have) and all(map(covers, want, have))
    return bool(want == have)


def merge_patch(old: Mapping[str, Any], new: Mapping[str, Any]) -> dict[str, Any]:
    """A JSON merge patch from `old` to `new`: keys `new` dropped become null, so they are removed."""
    out: dict[str, Any] = {k: None for k in old if k not in new}
    for key, value in new.items():
        before = old.get(key)
        if isinstance(value, Mapping) and isinstance(before, Mapping):
            out[key] = merge_patch(before, value)
        else:
            out[key] = value
    return out


def _digest(manifest: Mapping[str, Any]) -> str:
    return hashlib.sha256(json.dumps(manifest, sort_keys=True).encode()).hexdigest()


@dataclass
class Memory:
    """What the reconciler remembers of one site between passes."""

    # child -> (digest of what was applied, resourceVersions before and after): neither a field the
    # API normalises (say "1000m" -> "1") nor an index that has not caught up with our own write yet
    # costs another apply.
    applied: dict[ChildKey, tuple[str, frozenset[str]]] = field(default_factory=dict)
    # Children this operator created and the index has not shown yet, with when: under load the
    # index lags behind our own creates, and a pass in between must not create them again.
    created: dict[ChildKey, float] = field(default_factory=dict)
    # Digests of the statuses our last patches replaced, and the status last written: a pass that runs
    # before the index shows those patches starts from what was written, so no transition is
    # announced twice. By content, not resourceVersion: kopf's own annotation writes bump that too.
    replaced: tuple[str, ...] = ()
    written: dict[str, Any] | None = None
    written_at: float = 0.0  # monotonic time of the last status patch
    wakeup: asyncio.TimerHandle | None = None


@dataclass
class Reconciler:
    """One reconcile per site at a time; requests arriving meanwhile fold into one more pass."""

    kube: Api
    post: Poster
    logger: logging.Logger = field(default_factory=lambda: logging.getLogger("spofless"))
    memory: dict[SiteKey, Memory] = field(default_factory=dict)
    _running: dict[SiteKey, float] = field(default_factory=dict)  # site -> when its pass started
    _again: set[SiteKey] = field(default_factory=set)
    _timed: set[asyncio.Task[None]] = field(default_factory=set)  # timed passes under way (the loop keeps weak refs)
    _closing: bool = False

    async def request(self, key: SiteKey, load: Loader, status_only: bool = False) -> None:
        """Reconciles `key` now, or once more after the pass already running for it. Never raises for
        a failed API call: the pass is logged, counted and retried after RETRY_SECONDS. A status-only
        pass (a fleet round's first) reports and moves nothing; a full pass follows it."""
        if key in self._running:
            if not status_only:
                self._again.add(key)
            return
        self._running[key] = time.monotonic()
        try:
            while True:
                self._again.discard(key)
                if not await self._pass(key, load, status_only):
                    break
                status_only = False
                if key not in self._again:
                    break
        finally:
            del self._running[key]

    async def _pass(self, key: SiteKey, load: Loader, status_only: bool = False) -> bool:
        """One counted, timed pass. False when it failed (a retry is scheduled) or the site is gone."""
        metrics.RECONCILES.inc()
        with metrics.RECONCILE_SECONDS.time():
            try:
                loaded = await load()
                if loaded is None or loaded[0].get("metadata", {}).get("deletionTimestamp"):
                    return False
                result = await self.reconcile(key, *loaded, status_only=status_only)
            except Exception as err:
                kind = failure(err)
                if kind is Failure.GONE or self._closing:
                    return False  # the site or its namespace is going away
                metrics.RECONCILE_ERRORS.inc()
                if kind is Failure.TRANSIENT:
                    self.logger.warning("reconcile of %s/%s failed, retrying in %.0f s: %s", *key, RETRY_SECONDS,
                                        describe(err))  # fmt: skip
                else:  # a bug: say where, and still retry so the site is not left behind
                    self.logger.exception("reconcile of %s/%s crashed, retrying in %.0f s", *key, RETRY_SECONDS)
                self.wake_later(key, load, RETRY_SECONDS)
                return False
        self.wake_later(key, load, result.wake_after)
        return True

    async def reconcile(
        self, key: SiteKey, stored: Mapping[str, Any], observed: Observed, status_only: bool = False
    ) -> decision.Decision:
        """Decides and carries out; raises what a failed API call raised, after reporting it."""
        memory = self.memory.setdefault(key, Memory())
        body = plain(stored)
        site = site_from(body)
        current = {k: v for k, v in site.status.items() if k != "kopf"}
        if memory.written is not None:
            if _digest(current) in memory.replaced:
                current = memory.written  # the index still shows a status our later patches replaced
                site = replace(site, status=memory.written)
            elif current == memory.written:
                memory.written, memory.replaced = None, ()  # the index caught up: keep no second copy
        now = datetime.now(UTC)
        result = decision.decide(site, observed, now)
        if status_only:  # the moves (and their events) are the full pass's
            if _failover_ends(current, result.status):
                return result  # a failback: reported with its move, or its event would read "Scaled"
            result = replace(result, apply=[], delete=[], events=[e for e in result.events if e.reason not in MOVES])
        try:
            await self._apply(memory, site, result.apply, observed.children)
        except Refused as err:
            # Nothing was written: the dry run refused it first. Running pods stay as they are; the
            # core says what can still be carried out without the refused object (a template refused
            # mid-rollout: every zone keeps its own, and replicas still move).
            trouble = decision.Trouble("ApplyRefused", f"the API server refused {err}", err.kind)
            result = decision.decide(site, observed, now, trouble)
            try:
                await self._apply(memory, site, result.apply, observed.children)
            except Refused as again:
                self.logger.info("%s/%s: nothing more applied, the API server refused %s", *key, again)
        except Exception as err:
            if failure(err) is Failure.TRANSIENT:
                # Say so if the status can still be written; the caller retries the whole pass.
                trouble = decision.Trouble("ApplyFailed", describe(err))
                await self._report(memory, site, current, decision.decide(site, observed, now, trouble).status)
            raise
        for name, replicas in result.scale.items():
            # A Deployment whose template spofless does not know: its replicas alone, template untouched.
            await self.kube.scale(site.namespace, name, replicas)
            metrics.API_WRITES.labels("scale").inc()
            self.logger.info("scaled Deployment %s/%s to %d", site.namespace, name, replicas)
        for kind, name in result.delete:
            self.logger.info("deleting %s %s/%s: its zone is no longer part of the site", kind, site.namespace, name)
            await self.kube.delete(kind, site.namespace, name)
            metrics.API_WRITES.labels("delete").inc()
        if result.status != current:
            wait = memory.written_at + PROGRESS_SECONDS - time.monotonic()
            if wait > 0 and not result.events and decision.progress_only(current, result.status):
                # Progress only, and the last write was a moment ago: a timed pass writes it, folded.
                return replace(result, wake_after=min(wait, result.wake_after or wait))
            await self._patch_status(memory, site, current, result.status)
        metrics.STATUSES.record(key, result.status)
        for event in result.events:
            if event.reason in MOVES:
                metrics.MOVES.labels(event.reason).inc()
            self.post(body, event)
        return result

    async def _patch_status(
        self, memory: Memory, site: decision.Site, current: dict[str, Any], status: dict[str, Any]
    ) -> None:
        await self.kube.patch_status(site.namespace, site.name, merge_patch(current, status))
        memory.replaced = (*memory.replaced[-7:], _digest(current))
        memory.written = status
        memory.written_at = time.monotonic()
        metrics.API_WRITES.labels("patch_status").inc()

    async def _report(
        self, memory: Memory, site: decision.Site, current: dict[str, Any], status: dict[str, Any]
    ) -> None:
        """Best effort: the API server that just failed a write may fail this one too."""
        if status == current:
            return
        try:
            await self._patch_status(memory, site, current, status)
        except Exception as err:
            if failure(err) is None:
                raise
            self.logger.debug("could not report the failure in %s/%s's status: %s", site.namespace, site.name,
                              describe(err))  # fmt: skip

    async def _apply(
        self, memory: Memory, site: decision.Site, manifests: list[dict[str, Any]], children: tuple[Child, ...]
    ) -> None:
        observed = {(c.kind, c.name): c for c in children}
        stale = [m for m in manifests if self._needs_apply(memory, m, observed.get(_child_key(m)))]
        if not stale:
            return
        # A change to what exists is dry-run first, whole: a template the API refuses must not leave
        # half the zones updated. A new site needs no dry run: its first Deployment is refused first.
        if any(_child_key(m) in observed for m in stale):
            for manifest in stale:
                await self.kube.apply(manifest, dry_run=True)
        for manifest in stale:
            stored = await self.kube.apply(manifest)
            metrics.API_WRITES.labels("apply").inc()
            had = observed.get(_child_key(manifest))
            versions = {had.resource_version if had else "", stored.get("metadata", {}).get("resourceVersion", "")}
            memory.applied[_child_key(manifest)] = (_digest(manifest), frozenset(versions - {""}))
            if had is None:
                memory.created[_child_key(manifest)] = time.monotonic()
            self.logger.info("applied %s %s/%s (%s)", manifest["kind"], site.namespace, manifest["metadata"]["name"],
                             _why(manifest, had))  # fmt: skip

    @staticmethod
    def _needs_apply(memory: Memory, manifest: dict[str, Any], have: Child | None) -> bool:
        key = _child_key(manifest)
        digest, versions = memory.applied.get(key, ("", frozenset()))
        if have is None:
            # Created by us moments ago, as it is now: the index has not caught up. Past the wait,
            # it is gone (deleted by someone) and is made again.
            created = memory.created.get(key)
            return not (created and digest == _digest(manifest) and time.monotonic() - created < INDEX_LAG_SECONDS)
        memory.created.pop(key, None)
        if digest == _digest(manifest) and have.resource_version in versions:
            return False  # what we applied last, and the index shows our write (or the version before it)
        return not covers(manifest, plain(have.body))

    def wake_later(self, key: SiteKey, load: Loader, delay: float | None) -> None:
        """Runs another pass after `delay` seconds (a failback window ending, a retry); None cancels."""
        memory = self.memory.setdefault(key, Memory())
        if memory.wakeup is not None:
            memory.wakeup.cancel()
            memory.wakeup = None
        if delay is not None:
            memory.wakeup = asyncio.get_running_loop().call_later(delay + 0.1, self._timed_pass, key, load)

    def _timed_pass(self, key: SiteKey, load: Loader) -> None:
        task = asyncio.get_running_loop().create_task(self.request(key, load))
        self._timed.add(task)
        task.add_done_callback(self._timed.discard)

    async def close(self) -> None:
        """At shutdown: no more timed passes, and a pass cut short by the closing client is no error."""
        self._closing = True
        for memory in self.memory.values():
            if memory.wakeup is not None:
                memory.wakeup.cancel()
        await self.kube.close()

    def longest_pass(self) -> float:
        """Seconds the oldest pass still running has taken: a wedged reconcile shows here."""
        return max((time.monotonic() - t for t in self._running.values()), default=0.0)

    def forget(self, key: SiteKey) -> None:
        """Drops everything remembered of a deleted site."""
        memory = self.memory.pop(key, None)
        if memory is not None and memory.wakeup is not None:
            memory.wakeup.cancel()
        metrics.STATUSES.forget(key)


def _child_key(manifest: Mapping[str, Any]) -> ChildKey:
    return manifest["kind"], manifest["metadata"]["name"]


def _why(manifest: Mapping[str, Any], had: Child | None) -> str:
    """Why a child was applied, for the log: new, its replicas, or the first other field it lacked."""
    if had is None:
        return "new"
    have = plain(had.body)
    want_replicas, have_replicas = manifest["spec"].get("replicas"), have.get("spec", {}).get("replicas")
    if want_replicas != have_replicas:
        return f"replicas {have_replicas} -> {want_replicas}"
    for part in ("metadata", "spec"):
        for key, value in manifest.get(part, {}).items():
            if not covers(value, have.get(part, {}).get(key)):
                return f"{part}.{key} differs"
    return "unchanged: the index had not shown our last write"


def _failover_ends(before: Mapping[str, Any], after: Mapping[str, Any]) -> bool:
    def active(status: Mapping[str, Any]) -> bool:
        return any(
            c.get("type") == "FailoverActive" and c.get("status") == "True" for c in status.get("conditions", [])
        )

    return active(before) and not active(after)


def site_from(body: Mapping[str, Any]) -> decision.Site:
    meta = body.get("metadata", {})
    return decision.Site(
        name=meta.get("name", ""),
        namespace=meta.get("namespace", ""),
        uid=meta.get("uid", ""),
        generation=int(meta.get("generation") or 0),
        spec=dict(body.get("spec") or {}),
        status=dict(body.get("status") or {}),
        annotations=dict(meta.get("annotations") or {}),
    )
