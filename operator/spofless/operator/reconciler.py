"""Carries out the core's decision for one site: the one writer. It applies what drifted, scales
what only needs replicas, patches the status when it changed, posts events; every write passes the
leadership gate first and leaves its result in the read-your-writes overlay.

The pass policy (which key, when, how often, retries) is the engine's; this module writes.
"""

from __future__ import annotations

import asyncio
import copy
import hashlib
import json
import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from spofless.core.model import names
from spofless.core.model.events import Event
from spofless.core.observed.records import Child, Observed
from spofless.core.site import crash, decision
from spofless.kube import Api, Failure, Refused, describe, failure
from spofless.operator import compact, metrics
from spofless.operator.compact import plain
from spofless.operator.leader import Leadership
from spofless.operator.overlay import Overlay

SiteKey = tuple[str, str]  # (namespace, name)
ChildKey = tuple[str, str]  # (kind, name) within the site's namespace
Poster = Callable[[Mapping[str, Any], Event], None]

MOVES = ("Failover", "Failback", "Scaled")  # events that announce a change of replicas
ZONE_EVENTS = (
    "ZoneLost",
    "ZoneRecovered",
    "ZoneSilent",
    "ZoneSilenceEnded",
    "ZoneSilenceContradicted",
)  # what a report announces; the rest waits for the full pass


class NotLeading(Exception):
    """This replica lost leadership: it writes nothing more."""


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
            if nested := merge_patch(before, value):
                out[key] = nested
        elif value != before:
            out[key] = value
    return out


def _digest(manifest: Mapping[str, Any]) -> str:
    return hashlib.sha256(json.dumps(manifest, sort_keys=True).encode()).hexdigest()


def _child_key(manifest: Mapping[str, Any]) -> ChildKey:
    return manifest["kind"], manifest["metadata"]["name"]


def _without_replicas(manifest: Mapping[str, Any]) -> dict[str, Any]:
    out = copy.deepcopy(dict(manifest))
    out.get("spec", {}).pop("replicas", None)
    return out


@dataclass
class Memory:
    """What the writer remembers of one site between passes."""

    # child -> (digest of what was applied, the resourceVersion it produced): a field the API
    # normalises (say "1000m" -> "1") must not cost an apply on every pass.
    applied: dict[ChildKey, tuple[str, str]] = field(default_factory=dict)
    written_at: float = 0.0  # monotonic time of the last status patch


@dataclass
class Reconciler:
    kube: Api
    post: Poster
    leadership: Leadership
    overlay: Overlay = field(default_factory=Overlay)
    logger: logging.Logger = field(default_factory=lambda: logging.getLogger("spofless"))
    memory: dict[SiteKey, Memory] = field(default_factory=dict)
    # Called with (namespace, pod, zone, resourceVersion) for each pod taken out of its Service.
    took_out: Callable[[str, str, str, str], None] = lambda *_: None
    fold_counts: float = 0.0  # seconds a change of ready counts alone may wait (core: decision.fold_wait)

    # --- the two kinds of pass -----------------------------------------------------------------

    async def report(self, key: SiteKey, stored: Mapping[str, Any], observed: Observed, now: datetime) -> None:
        """A zone was lost or came back: the status and the zone's event only, as one small patch,
        so every site says so before any site's moves are written. The full pass follows."""
        site = self._site(key, stored)
        result = decision.decide(site, observed, now)
        await self._take_out(site, result.unready, observed)  # the traffic first: it is what hurts now
        await self._write_status(key, site, result.status)
        self._post(stored, [e for e in result.events if e.reason in ZONE_EVENTS])

    async def reconcile(
        self, key: SiteKey, stored: Mapping[str, Any], observed: Observed, now: datetime
    ) -> decision.Decision:
        """Decides and carries out; raises what a failed API call raised, after reporting it."""
        memory = self.memory.setdefault(key, Memory())
        site = self._site(key, stored)
        result = decision.decide(site, observed, now)
        try:
            await self._apply(key, memory, site, result.apply, observed.children)
        except Refused as err:
            # Nothing was written: the dry run refused it first. Running pods stay as they are; the
            # core says what can still be carried out without the refused object (a template refused
            # mid-rollout: every zone keeps its own, and replicas still move).
            refused = decision.ApplyFailure("ApplyRefused", f"the API server refused {err}", err.kind)
            result = decision.decide(site, observed, now, refused)
            try:
                await self._apply(key, memory, site, result.apply, observed.children)
            except Refused as again:
                self.logger.info("%s/%s: nothing more applied, the API server refused %s", *key, again)
        except NotLeading:
            raise
        except Exception as err:
            if failure(err) in (Failure.TRANSIENT, Failure.THROTTLED, Failure.PERMANENT):
                # Say so if the status can still be written; the engine retries the pass (or not).
                failed = decision.ApplyFailure("ApplyFailed", describe(err))
                await self._report_failure(key, site, decision.decide(site, observed, now, failed).status)
            raise
        await self._take_out(site, result.unready, observed)
        await self._evict(site, result.evict)
        for name, replicas in result.scale.items():
            # A Deployment whose template spofless does not know: its replicas alone, template untouched.
            await self._scale(key, site.namespace, name, replicas, observed.children)
        for kind, name in result.delete:
            self._gate()
            self.logger.info("deleting %s %s/%s: its zone is no longer part of the site", kind, site.namespace, name)
            await self.kube.delete(kind, site.namespace, name)
            self.overlay.deleted(key, kind, name)
            metrics.API_WRITES.labels("delete").inc()
        if result.status != dict(site.status):
            since = time.monotonic() - memory.written_at
            wait = decision.fold_wait(site.status, result, self.fold_counts, since)
            if wait > 0:
                # No news, and the last write was a moment ago: a timed pass writes it, folded.
                due = min(wait, result.wake_after or wait)
                return replace(result, wake_after=due, wake_moves=result.wake_moves and due == result.wake_after)
            await self._write_status(key, site, result.status)
        metrics.STATUSES.record(key, result.status)
        for event in result.events:
            if event.reason in MOVES:
                metrics.MOVES.labels(event.reason).inc()
        self._post(stored, result.events)
        return result

    async def report_crash(self, key: SiteKey, stored: Mapping[str, Any], message: str, now: datetime) -> None:
        """A pass raised: the status says so (Reconciled=False, InternalError), best effort."""
        site = self._site(key, stored)
        await self._report_failure(key, site, crash.crashed(site.status, message, now, site.generation))

    def forget(self, key: SiteKey) -> None:
        self.memory.pop(key, None)
        self.overlay.forget(key)
        metrics.STATUSES.forget(key)

    def reset(self) -> None:
        """Leadership lost: nothing remembered may steer a later pass."""
        self.memory.clear()
        self.overlay.clear()

    # --- reading -------------------------------------------------------------------------------

    def _site(self, key: SiteKey, stored: Mapping[str, Any]) -> decision.Site:
        """The site as the core reads it, with the status this replica last wrote laid over a lagging index."""
        body = plain(stored)
        meta = body.get("metadata", {})
        status = self.overlay.status(key, str(meta.get("resourceVersion") or ""), body.get("status") or {})
        return decision.Site(
            name=meta.get("name", ""),
            namespace=meta.get("namespace", ""),
            uid=meta.get("uid", ""),
            generation=int(meta.get("generation") or 0),
            spec=dict(body.get("spec") or {}),
            status={k: v for k, v in status.items() if k != "kopf"},
            annotations=dict(meta.get("annotations") or {}),
        )

    # --- writing -------------------------------------------------------------------------------

    def _gate(self) -> None:
        if not self.leadership.leading():
            raise NotLeading

    async def _write_status(self, key: SiteKey, site: decision.Site, status: dict[str, Any]) -> None:
        if status == site.status:
            return
        self._gate()
        patch = merge_patch(site.status, status)
        stored = await self.kube.patch_status(site.namespace, site.name, patch)
        self.logger.info("patched the status of %s/%s: %s", site.namespace, site.name, _changed(patch))
        version = str((stored.get("metadata") or {}).get("resourceVersion") or "")
        self.overlay.wrote_status(key, version, status)
        self.memory.setdefault(key, Memory()).written_at = time.monotonic()
        metrics.API_WRITES.labels("patch_status").inc()

    async def _report_failure(self, key: SiteKey, site: decision.Site, status: dict[str, Any]) -> None:
        """Best effort: the API server that just failed a write may fail this one too."""
        try:
            await self._write_status(key, site, status)
        except NotLeading:
            raise
        except Exception as err:
            if failure(err) is None:
                raise
            self.logger.debug("could not report the failure in %s/%s's status: %s", site.namespace, site.name,
                              describe(err))  # fmt: skip

    async def _take_out(self, site: decision.Site, pods: list[str], observed: Observed) -> None:
        """Ready=False on the silent zone's pods: their endpoints leave the site's Service."""
        zone_of = {p.name: p.zone for p in observed.pods}
        message = "spofless: this pod's zone is silent (no node Lease renewed); out of the Service until it renews"
        for pod in pods:
            self._gate()
            version = await self.kube.mark_unready(site.namespace, pod, names.REASON_ZONE_SILENT, message)
            metrics.API_WRITES.labels("pod_status").inc()
            self.took_out(site.namespace, pod, zone_of.get(pod, ""), version)
            self.logger.info("took pod %s/%s out of its Service: its zone is silent", site.namespace, pod)

    async def _evict(self, site: decision.Site, pods: list[str]) -> None:
        """Leftovers of a silence: evicted within the budget; one the budget refuses waits for a later pass."""
        for pod in pods:
            self._gate()
            try:
                await self.kube.evict(site.namespace, pod)
            except Exception as err:
                if failure(err) is not Failure.THROTTLED:  # 429: the budget allows no disruption now
                    raise
                self.logger.info("evicting pod %s/%s waits for its budget: %s", site.namespace, pod, describe(err))
                continue
            metrics.API_WRITES.labels("evict").inc()
            self.logger.info("evicted pod %s/%s: still out of its Service after its zone renewed", site.namespace, pod)

    def _post(self, body: Mapping[str, Any], events: list[Event]) -> None:
        if events:
            self._gate()
        for event in events:
            self.post(body, event)

    async def _apply(
        self,
        key: SiteKey,
        memory: Memory,
        site: decision.Site,
        manifests: list[dict[str, Any]],
        children: tuple[Child, ...],
    ) -> None:
        have = {(c.kind, c.name): c for c in children}
        stale = [m for m in manifests if self._needs_write(memory, m, have.get(_child_key(m)))]
        scales = [m for m in stale if self._replicas_only(m, have.get(_child_key(m)))]
        applies = [m for m in stale if m not in scales]
        # A change to what exists is dry-run first, whole: a template the API refuses must not leave
        # half the zones updated. A new site needs no dry run: its first Deployment is refused first.
        # Replicas alone go through the scale subresource: one small write, nothing to refuse.
        if any(_child_key(m) in have for m in applies):
            for manifest in applies:
                self._gate()
                await self.kube.apply(manifest, dry_run=True)
            for manifest in applies:
                await self._write(key, memory, site, manifest, have)
        elif applies:
            # A new site: its first Deployment alone, so a template the API refuses is refused before
            # anything else is made; then the rest at once: two round trips instead of five.
            await self._write(key, memory, site, applies[0], have)
            written = await asyncio.gather(*(self._write(key, memory, site, m, have) for m in applies[1:]),
                                           return_exceptions=True)  # fmt: skip
            for outcome in written:
                if isinstance(outcome, BaseException):
                    raise outcome
        for manifest in scales:
            await self._scale(key, site.namespace, manifest["metadata"]["name"], manifest["spec"]["replicas"], children)

    async def _write(
        self, key: SiteKey, memory: Memory, site: decision.Site, manifest: dict[str, Any], have: dict[ChildKey, Child]
    ) -> None:
        self._gate()
        stored = await self.kube.apply(manifest)
        metrics.API_WRITES.labels("apply").inc()
        child = compact.child_from(stored)
        self.overlay.wrote(key, child)
        memory.applied[_child_key(manifest)] = (_digest(manifest), child.resource_version)
        self.logger.info("applied %s %s/%s (%s)", manifest["kind"], site.namespace, manifest["metadata"]["name"],
                         _why(manifest, have.get(_child_key(manifest))))  # fmt: skip

    async def _scale(self, key: SiteKey, namespace: str, name: str, replicas: int, children: tuple[Child, ...]) -> None:
        self._gate()
        version = await self.kube.scale(namespace, name, replicas)
        metrics.API_WRITES.labels("scale").inc()
        had = next((c for c in children if c.kind == "Deployment" and c.name == name), None)
        if had is not None:
            self.overlay.wrote(key, compact.with_replicas(had, replicas, version))
        self.logger.info("scaled Deployment %s/%s to %d (was %s)", namespace, name, replicas,
                         had.replicas if had else "?")  # fmt: skip

    @staticmethod
    def _needs_write(memory: Memory, manifest: dict[str, Any], have: Child | None) -> bool:
        if have is None:
            return True
        digest, version = memory.applied.get(_child_key(manifest), ("", ""))
        if digest == _digest(manifest) and have.resource_version == version:
            return False  # what we applied last, untouched since: a normalised field is no drift
        return not covers(manifest, plain(have.body))

    @staticmethod
    def _replicas_only(manifest: dict[str, Any], have: Child | None) -> bool:
        return (
            have is not None
            and manifest["kind"] == "Deployment"
            and "replicas" in manifest.get("spec", {})
            and covers(_without_replicas(manifest), plain(have.body))
        )


def _changed(patch: Mapping[str, Any]) -> str:
    """The fields a status patch changes, for the log: `phase`, `conditions`, `zones`..."""
    return ", ".join(sorted(patch)) or "nothing"


def _why(manifest: Mapping[str, Any], had: Child | None) -> str:
    """Why a child was applied, for the log: new, or the first field it lacked."""
    if had is None:
        return "new"
    have = plain(had.body)
    for part in ("metadata", "spec"):
        for key, value in manifest.get(part, {}).items():
            if not covers(value, have.get(part, {}).get(key)):
                return f"{part}.{key} differs"
    return "unchanged: a field the API server normalises"
