"""Carries out the core's decision for one site: applies what drifted, patches the status when
it changed, posts events. The only module that writes to the API on a site's behalf."""

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

from kubernetes_asyncio.client.exceptions import ApiException

from spofless.core import decision
from spofless.core.observed import Child, Observed
from spofless.kube import Kube, Refused, describe
from spofless.operator import metrics

SiteKey = tuple[str, str]  # (namespace, name)
Poster = Callable[[Mapping[str, Any], decision.Event], None]
Loader = Callable[[], Awaitable[tuple[Mapping[str, Any], Observed] | None]]


def covers(want: Any, have: Any) -> bool:
    """True when every field of `want` is in `have` with the same value (the API adds defaults)."""
    if isinstance(want, dict):
        return isinstance(have, dict) and all(k in have and covers(v, have[k]) for k, v in want.items())
    if isinstance(want, list):
        return isinstance(have, list) and len(want) == len(have) and all(map(covers, want, have))
    return bool(want == have)


def _digest(manifest: Mapping[str, Any]) -> str:
    return hashlib.sha256(json.dumps(manifest, sort_keys=True).encode()).hexdigest()


@dataclass
class Reconciler:
    """One reconcile per site at a time; requests arriving meanwhile fold into one more pass."""

    kube: Kube
    post: Poster
    logger: logging.Logger = field(default_factory=lambda: logging.getLogger("spofless"))
    # (kind, namespace, name) -> (digest of what was applied, resourceVersions before and after):
    # neither a field the API normalises (say "1000m" -> "1") nor an index that has not caught up
    # with our own write yet costs another apply.
    applied: dict[tuple[str, str, str], tuple[str, frozenset[str]]] = field(default_factory=dict)
    # site -> (digests of the statuses our last patches replaced, the status last written): a pass
    # that runs before the index shows those patches starts from what was written, so no transition
    # is announced twice. By content, not resourceVersion: kopf's own annotation writes bump that too.
    written: dict[SiteKey, tuple[tuple[str, ...], dict[str, Any]]] = field(default_factory=dict)
    _running: dict[SiteKey, float] = field(default_factory=dict)  # site -> when its pass started
    _wakeups: dict[SiteKey, asyncio.TimerHandle] = field(default_factory=dict)
    _again: set[SiteKey] = field(default_factory=set)

    async def request(self, key: SiteKey, load: Loader) -> None:
        """Reconciles `key` now, or once more after the pass already running for it."""
        if key in self._running:
            self._again.add(key)
            return
        self._running[key] = time.monotonic()
        try:
            while True:
                self._again.discard(key)
                loaded = await load()
                if loaded is not None and not loaded[0].get("metadata", {}).get("deletionTimestamp"):
                    result = await self.reconcile(key, *loaded)
                    self.wake_later(key, load, result.wake_after)
                if key not in self._again:
                    break
        finally:
            del self._running[key]

    async def reconcile(self, key: SiteKey, body: Mapping[str, Any], observed: Observed) -> decision.Decision:
        site = site_from(body)
        current = {k: v for k, v in site.status.items() if k != "kopf"}
        older, latest = self.written.get(key, ((), None))
        if latest is not None and _digest(current) in older:
            current = latest  # the index still shows a status our later patches replaced
            site = replace(site, status=latest)
        now = datetime.now(UTC)
        result = decision.decide(site, observed, now)
        if result.apply:
            try:
                await self._apply(site, result.apply, observed.children)
            except Refused as err:
                # Nothing was written: the dry run refused it first. Running pods stay as they are.
                prev = decision.previous_status(site.status)
                result = decision.invalid(site, prev, "ApplyRefused", f"the API server refused {err}", now)
            except ApiException as err:
                # The API server failed (a full Service IP range, an outage): say so if the status can
                # still be written, and let the caller retry the whole pass.
                await self._report(key, site, current, decision.apply_failed(site, result.status, describe(err), now))
                raise
        for kind, name in result.delete:
            self.logger.info("deleting %s %s/%s: its zone is no longer part of the site", kind, site.namespace, name)
            await self.kube.delete(kind, site.namespace, name)
            metrics.API_WRITES.labels("delete").inc()
        if result.status != current:
            await self._patch_status(key, site, current, result.status)
        metrics.STATUSES.statuses[key] = result.status
        for event in result.events:
            if event.reason in ("Failover", "Failback", "Scaled"):
                metrics.MOVES.labels(event.reason).inc()
            self.post(body, event)
        return result

    async def _patch_status(
        self, key: SiteKey, site: decision.Site, current: dict[str, Any], status: dict[str, Any]
    ) -> None:
        older, _ = self.written.get(key, ((), None))
        await self.kube.patch_status(site.namespace, site.name, status)
        self.written[key] = ((*older[-7:], _digest(current)), status)
        metrics.API_WRITES.labels("patch_status").inc()

    async def _report(self, key: SiteKey, site: decision.Site, current: dict[str, Any], status: dict[str, Any]) -> None:
        """Best effort: the API server that just failed a write may fail this one too."""
        if status != current:
            try:
                await self._patch_status(key, site, current, status)
            except (ApiException, OSError, TimeoutError) as err:
                self.logger.debug("could not report the failure in %s/%s's status: %s", *key, describe(err))

    async def _apply(self, site: decision.Site, manifests: list[dict[str, Any]], children: tuple[Child, ...]) -> None:
        observed = {(c.kind, c.name): c.body for c in children}
        stale = [
            m
            for m in manifests
            if self._needs_apply(site.namespace, m, observed.get((m["kind"], m["metadata"]["name"])))
        ]
        if not stale:
            return
        # A change to what exists is dry-run first, whole: a template the API refuses must not leave
        # half the zones updated. A new site needs no dry run: its first Deployment is refused first.
        if any((m["kind"], m["metadata"]["name"]) in observed for m in stale):
            for manifest in stale:
                await self.kube.apply(manifest, dry_run=True)
        for manifest in stale:
            stored = await self.kube.apply(manifest)
            metrics.API_WRITES.labels("apply").inc()
            ident = (manifest["kind"], site.namespace, manifest["metadata"]["name"])
            have = observed.get((manifest["kind"], manifest["metadata"]["name"])) or {}
            versions = {
                have.get("metadata", {}).get("resourceVersion", ""),
                stored.get("metadata", {}).get("resourceVersion", ""),
            }
            self.applied[ident] = (_digest(manifest), frozenset(versions - {""}))
            self.logger.info("applied %s %s/%s", *ident)

    def _needs_apply(self, namespace: str, manifest: dict[str, Any], have: Mapping[str, Any] | None) -> bool:
        if have is None:
            return True
        if covers(manifest, have):
            return False
        digest, versions = self.applied.get(
            (manifest["kind"], namespace, manifest["metadata"]["name"]), ("", frozenset())
        )
        return digest != _digest(manifest) or have.get("metadata", {}).get("resourceVersion") not in versions

    def wake_later(self, key: SiteKey, load: Loader, delay: float | None) -> None:
        """Runs another pass after `delay` seconds (a failback window ending, a retry); None cancels."""
        if old := self._wakeups.pop(key, None):
            old.cancel()
        if delay is not None:
            loop = asyncio.get_running_loop()
            self._wakeups[key] = loop.call_later(delay + 0.1, lambda: loop.create_task(self._woken(key, load)))

    async def _woken(self, key: SiteKey, load: Loader) -> None:
        try:
            await self.request(key, load)
        except Exception as err:  # nobody awaits this task: say so, and try again
            self.logger.warning("timed pass of %s/%s failed, retrying in 5 s: %s", *key, describe(err))
            self.wake_later(key, load, 5.0)

    def longest_pass(self) -> float:
        """Seconds the oldest pass still running has taken: a wedged reconcile shows here."""
        return max((time.monotonic() - t for t in self._running.values()), default=0.0)

    def forget(self, key: SiteKey) -> None:
        """Drops what is remembered of a deleted site's children."""
        namespace, name = key
        if wakeup := self._wakeups.pop(key, None):
            wakeup.cancel()
        metrics.STATUSES.statuses.pop(key, None)
        self.written.pop(key, None)
        self.applied = {k: v for k, v in self.applied.items() if not (k[1] == namespace and k[2].startswith(name))}


def site_from(body: Mapping[str, Any]) -> decision.Site:
    meta = body.get("metadata", {})
    return decision.Site(
        name=meta.get("name", ""),
        namespace=meta.get("namespace", ""),
        uid=meta.get("uid", ""),
        generation=int(meta.get("generation") or 0),
        spec=dict(body.get("spec") or {}),
        status=dict(body.get("status") or {}),
    )
