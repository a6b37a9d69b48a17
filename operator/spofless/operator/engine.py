"""The reconcile engine: watches map events to site keys, one work queue orders the passes, a bounded
set of workers runs them, and only the leader's workers write.

- A site's pass runs in one of three lanes (see queue.py): a zone lost puts every site in
  the zone lane, where a pass writes the report only (status and zone event, one small patch); the
  site then goes to the moves lane for its full pass. A zone back, and a failback window ending,
  go to the moves lane at once. Everything else is the rest lane.
- A failed pass is retried with per-key backoff and jitter, as its error sort says: throttled waits
  at least Retry-After, transient backs off, permanent waits for a change, a crash is reported in
  the status (Reconciled=False, InternalError) and backs off too. Other sites never wait on it.
- Timed steps (failback windows, bakes, evacuation ends, a folded progress write) are timed adds to
  the same queue.
- Leadership: a standby runs no pass at all. Gaining the Lease resyncs every site; losing it clears
  the queue, the timers and everything remembered (see leader.py).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from spofless.core.observed.datacenters import DataCenterView
from spofless.core.observed.records import Child, Endpoint, Load, Node, Observed, Pod, ZoneSilence
from spofless.kube import Failure, describe, failure, retry_after
from spofless.operator import dependency_records, metrics
from spofless.operator.leader import Leadership
from spofless.operator.queue import LANE_NAMES, Lane, WorkQueue
from spofless.operator.reconciler import NotLeading, Reconciler
from spofless.operator.silencewatch import SilenceWatch
from spofless.operator.zonewatch import Change, Transition, ZoneWatch

SiteKey = tuple[str, str]  # (namespace, name)
WORKERS = 16  # passes in flight at most: the API server is never flooded, other clients stay served
# More workers that take only the zone and moves lanes: a zone lost under 1000 sites is 1000 small
# status patches, then 1000 scale writes, and 16 at a time are bound by the API server's latency, not
# by its throughput (the bench's floor sent 1000 writes in 4.5 s with 100 in flight). The rest lane
# (pod events, timed steps such as a failback) keeps the 16: failback stays paced.
ZONE_WORKERS = 32
DETAIL_DELAY = 3.0  # seconds: one pass of every site per burst of node details (ready counts, room)
SILENCE_TICK = 1.0  # seconds between two judgements of the zones' silence
# A new pod changes three or four times within a second or two (created, scheduled, running and ready,
# then its EndpointSlice): a site's pod and EndpointSlice events gather this long into one pass.
SETTLE_DELAY = 1.0


@dataclass
class Indices:
    """The kopf indices one pass reads (live objects: kopf keeps them up to date)."""

    sites: Mapping[SiteKey, Any]
    nodes: Mapping[None, Any]
    pods: Mapping[SiteKey, Any]
    endpoints: Mapping[SiteKey, Any]
    children: Mapping[SiteKey, Any]
    dependencies: Mapping[Any, Any]
    usage: Mapping[str, Load]
    # Data centers (operator/datacenters.py): the store's view for one site, when this is one of several.
    datacenters: Callable[[SiteKey, Mapping[str, Any]], DataCenterView | None] | None = None

    def site(self, key: SiteKey) -> Mapping[str, Any] | None:
        bodies = list(self.sites.get(key, ()))
        return bodies[0] if bodies else None

    def site_keys(self) -> list[SiteKey]:
        return list(self.sites)

    def observed(
        self, key: SiteKey, body: Mapping[str, Any], children: tuple[Child, ...], silence: ZoneSilence | None = None
    ) -> Observed:
        nodes: tuple[Node, ...] = tuple(self.nodes.get(None, ()))
        pods: tuple[Pod, ...] = tuple(self.pods.get(key, ()))
        endpoints: tuple[Endpoint, ...] = tuple(e for part in self.endpoints.get(key, ()) for e in part)
        return Observed(
            nodes=nodes,
            pods=pods,
            endpoints=endpoints,
            children=children,
            usage=self.usage,
            dependencies=dependency_records.gather(
                key[0], body.get("spec") or {}, self.dependencies, self.children, self.endpoints
            ),
            silence=silence,
            datacenters=self.datacenters(key, body) if self.datacenters is not None else None,
        )


@dataclass
class Engine:
    reconciler: Reconciler
    leadership: Leadership
    logger: logging.Logger = field(default_factory=lambda: logging.getLogger("spofless"))
    workers: int = WORKERS
    zone_workers: int = ZONE_WORKERS
    queue: WorkQueue[SiteKey] = field(default_factory=WorkQueue)
    zones: ZoneWatch = field(default_factory=ZoneWatch)
    indices: Indices | None = None
    silence: SilenceWatch | None = None  # the zone-silence detector; None: NotReady alone
    indexed: bool = False  # every index has been listed once: passes may read them
    _unlisted: set[str] = field(default_factory=lambda: {"kopf"})
    _tasks: list[asyncio.Task[None]] = field(default_factory=list)
    _running: dict[SiteKey, float] = field(default_factory=dict)
    _detail: asyncio.TimerHandle | None = None

    # --- life ----------------------------------------------------------------------------------

    def start(self, indices: Indices) -> None:
        self.indices = indices
        loop = asyncio.get_running_loop()
        self._tasks = [loop.create_task(self._work(), name=f"spofless-worker-{i}") for i in range(self.workers)]
        self._tasks += [
            loop.create_task(self._work(Lane.MOVES), name=f"spofless-zone-worker-{i}") for i in range(self.zone_workers)
        ]
        if self.silence is not None:
            self.reconciler.took_out = self.silence.took_out
            self._tasks.append(loop.create_task(self.silence.leases.run(), name="spofless-node-leases"))
            self._tasks.append(loop.create_task(self._judge_silence(), name="spofless-silence"))
        metrics.ENGINE.attach(self)

    async def close(self) -> None:
        self.queue.shut_down()
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    def expect(self, *sources: str) -> None:
        """Lists the indices wait on besides kopf's (the operator's own watches: reflector.py)."""
        self._unlisted.update(sources)

    def mark_indexed(self, source: str = "kopf") -> None:
        """One source of the indices has listed everything once (kopf calls event handlers only once
        every index of its own is filled); with the last, passes may read them."""
        self._unlisted.discard(source)
        if not self.indexed and not self._unlisted:
            self.indexed = True
            if self.leadership.leading():
                self.resync("start")

    async def lead(self) -> None:
        """Leadership gained: every site gets a pass, from a clean slate."""
        metrics.LEADER.set(1)
        self.reconciler.reset()
        self.queue.clear()
        if self.indexed:
            self.resync("leader")

    async def step_down(self) -> None:
        """Leadership lost: nothing queued, timed or remembered survives."""
        metrics.LEADER.set(0)
        if self.silence is not None:
            self.silence.reset()
        metrics.STATUSES.clear()  # a standby exports no site gauges: the leader's are the truth
        metrics.OPERATOR_REPLICAS.clear()
        self.queue.clear()
        self.reconciler.reset()
        if self._detail is not None:
            self._detail.cancel()
            self._detail = None

    def resync(self, cause: str, lane: Lane = Lane.REST) -> None:
        """Every site once, in `lane`."""
        for key in self._site_keys():
            self.queue.add(key, lane, cause)

    # --- what the watches say ------------------------------------------------------------------

    def enqueue(self, key: SiteKey, cause: str, lane: Lane = Lane.REST, after: float = 0.0) -> None:
        """A pass of the site, now or `after` seconds from now; a standby queues nothing, nor does a
        replica whose indices are not all listed yet (a pass then would read a part of the cluster;
        the resync once they are passes every site)."""
        if not (self.leadership.leading() and self.indexed):
            return
        if after > 0:
            self.queue.add_after(key, after, lane, cause)
        else:
            self.queue.add(key, lane, cause)

    def enqueue_settled(self, key: SiteKey, cause: str) -> None:
        """A pass of the site once its pods' burst of changes has settled (SETTLE_DELAY); an earlier
        timed pass already set covers it, a later one is brought forward and set again by the pass."""
        self.enqueue(key, cause, after=SETTLE_DELAY)

    def node_changed(self, name: str, node: Node | None) -> None:
        change, transitions = self.zones.update(name, node)
        if change is not Change.NONE:
            for zone, healthy in self.zones.healthy().items():  # the default key's zones, from the first look
                metrics.ZONE_HEALTHY.labels(zone).set(1 if healthy else 0)
        if change is Change.TRANSITION:
            self._zone_transitions(transitions)
        elif change is Change.DETAIL:
            self.fleet_later("node")

    def later(self, delay: float, cause: str) -> None:
        """Every site once, `delay` seconds from now (a timed look that concerns them all)."""
        if self.leadership.leading():
            asyncio.get_running_loop().call_later(delay, self.resync, cause)

    async def _judge_silence(self) -> None:
        """The leader judges the zones' silence every second (core/placement/silence.py)."""
        assert self.silence is not None
        while True:
            await asyncio.sleep(SILENCE_TICK)
            if not (self.leadership.leading() and self.indexed):
                continue
            try:
                await self.silence.tick(self.zones.nodes)
            except Exception as err:  # a fresh read that failed: no verdict this second, try the next
                self.logger.info("judging zone silence: %s", describe(err))

    def fleet_later(self, cause: str) -> None:
        """Every site, once, a moment from now: one pass per burst of changes every site reads."""
        if self._detail is not None or not self.leadership.leading():
            return

        def fire() -> None:
            self._detail = None
            self.resync(cause)

        self._detail = asyncio.get_running_loop().call_later(DETAIL_DELAY, fire)

    def _zone_transitions(self, transitions: Iterable[Transition]) -> None:
        lost = False
        for t in transitions:
            self.logger.warning("zone %s %s", t.zone, "is back" if t.healthy else "lost: none of its nodes is Ready")
            lost = lost or not t.healthy
        # A zone back hurts no site: each gets its full pass (status, event, failback window) at
        # once, without a report first that would be a second pass for the same status.
        self.report_all("zone", Lane.ZONE if lost else Lane.MOVES)

    def report_all(self, cause: str, lane: Lane = Lane.ZONE) -> None:
        """Something every site stands on was lost or came back (a zone, a data center): every site
        reports first, in the zone lane, then goes to the moves lane for its full pass (or straight to
        its full pass, with `lane` MOVES)."""
        if self._detail is not None:  # every site gets a full pass after its report anyway
            self._detail.cancel()
            self._detail = None
        if self.leadership.leading():
            self.resync(cause, lane)

    def _site_keys(self) -> list[SiteKey]:
        return self.indices.site_keys() if self.indices is not None and self.indexed else []

    # --- passes --------------------------------------------------------------------------------

    async def _work(self, lowest: Lane = Lane.REST) -> None:
        while True:
            key, lane, cause, waited = await self.queue.get(lowest)
            metrics.QUEUE_WAIT.observe(waited)
            self._running[key] = time.monotonic()
            try:
                await self._pass(key, lane, cause)
            except asyncio.CancelledError:
                raise
            except Exception:  # the pass's own handling failed: never let a worker die
                self.logger.exception("pass of %s/%s failed unexpectedly", *key)
            finally:
                self._running.pop(key, None)
                self.queue.done(key)

    async def _pass(self, key: SiteKey, lane: Lane, cause: str) -> None:
        if not self.leadership.leading() or self.indices is None:
            return  # a standby runs nothing; gaining the Lease resyncs every site
        body = self.indices.site(key)
        if body is None or (body.get("metadata") or {}).get("deletionTimestamp"):
            self.queue.forget(key)
            self.queue.cancel_timer(key)
            self.reconciler.forget(key)
            return
        children = self.reconciler.overlay.children(key, self.indices.children.get(key, ()))
        silence = self.silence.view() if self.silence is not None else None
        observed = self.indices.observed(key, body, children, silence)
        now = datetime.now(UTC)
        metrics.RECONCILES.labels(cause or "other").inc()
        with metrics.RECONCILE_SECONDS.time():
            try:
                if lane is Lane.ZONE:
                    await self.reconciler.report(key, body, observed, now)
                    self.queue.add(key, Lane.MOVES, cause)
                    return
                result = await self.reconciler.reconcile(key, body, observed, now)
            except NotLeading:
                return
            except Exception as err:
                await self._failed(key, body, err, now)
                return
        self.queue.forget(key)
        if result.wake_after is not None:
            # A failback is a move: a fleet's windows end together, and their passes go with the
            # moves rather than behind the pod events' passes of the rest lane.
            lane, why = (Lane.MOVES, "failback") if result.wake_moves else (Lane.REST, "timer")
            self.queue.add_after(key, result.wake_after + 0.1, lane, why)

    async def _failed(self, key: SiteKey, body: Mapping[str, Any], err: Exception, now: datetime) -> None:
        kind = failure(err)
        if kind is Failure.GONE:
            self.queue.forget(key)
            return
        sort = kind.value if kind is not None else "crash"
        metrics.RECONCILE_ERRORS.labels(sort).inc()
        if kind is Failure.PERMANENT:
            # The status says what was refused; a change to the site or its children brings a pass.
            self.logger.warning("reconcile of %s/%s refused, not retried until something changes: %s", *key,
                                describe(err))  # fmt: skip
            self.queue.forget(key)
            return
        if kind is None:  # a bug: say where, show it in the status, and still retry (with backoff)
            self.logger.exception("reconcile of %s/%s crashed", *key)
            try:
                await self.reconciler.report_crash(key, body, f"{type(err).__name__}: {err}", now)
            except NotLeading:
                return
            except Exception as again:
                self.logger.warning("could not report the crash of %s/%s: %r", *key, again)
        delay = self.queue.add_rate_limited(key, retry_after(err) if kind is Failure.THROTTLED else None)
        self.logger.warning("reconcile of %s/%s failed (%s), retrying in %.1f s: %s", *key, sort, delay, describe(err))

    def forget(self, key: SiteKey) -> None:
        self.queue.forget(key)
        self.queue.cancel_timer(key)
        self.reconciler.forget(key)

    def longest_pass(self) -> float:
        """Seconds the oldest pass still running has taken: a wedged reconcile shows here."""
        return max((time.monotonic() - t for t in self._running.values()), default=0.0)

    def depth(self, lane: Lane) -> int:
        return self.queue.depth(lane)


__all__ = ["LANE_NAMES", "Engine", "Indices", "Lane"]
