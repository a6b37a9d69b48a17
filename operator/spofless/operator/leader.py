"""Leadership: one replica writes, the others stand by, through a coordination.k8s.io Lease.

The algorithm is client-go's leader election:
- The leader renews the Lease every RETRY seconds. It counts as leader only while its last successful
  renewal is younger than RENEW_DEADLINE (on its own monotonic clock), which is shorter than the
  Lease's duration: it stops writing before any other replica may take the Lease over.
- A standby takes the Lease over once it has seen the same record, unchanged, for the Lease's full
  duration (timed on the standby's own clock, so no two clocks are compared).
- Every write is an update at the resourceVersion read: of two replicas racing for it, one gets 409.
- Leaving gracefully releases the Lease (duration 1 s, no holder), so a standby takes over at once.

Why a Lease of our own and not kopf's peering: peering pauses kopf's watches only, while timers,
queued passes and in-flight writes of a demoted replica go on (seen: a demoted replica scaled two
healthy zones down mid-outage). Here the one gate, `leading()`, is checked before every write, and
losing the Lease clears the work queue and everything remembered. kopf itself runs standalone on
every replica, so a standby's indices stay warm and a takeover needs no re-listing.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from spofless.kube import Api, describe, failure

LEASE_SECONDS = 15  # how long a Lease stays valid after its last renewal
RENEW_DEADLINE = 10.0  # the leader stops writing when it could not renew for this long
RETRY = 2.0  # seconds between renewals, and between a standby's looks


def _microtime(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


@dataclass
class Leadership:
    """Whether this replica may write. `always` (standalone, tests): leads from the start, forever."""

    identity: str
    always: bool = False
    _renewed: float | None = None  # monotonic time of the last successful renewal as holder

    def leading(self) -> bool:
        if self.always:
            return True
        return self._renewed is not None and time.monotonic() - self._renewed < RENEW_DEADLINE

    def renewed(self, at: float) -> None:
        self._renewed = at

    def lost(self) -> None:
        self._renewed = None


@dataclass
class Elector:
    """Runs the election loop and says when leadership starts and stops."""

    kube: Api
    namespace: str
    name: str
    leadership: Leadership
    on_start: Callable[[], Awaitable[None]]
    on_stop: Callable[[], Awaitable[None]]
    logger: logging.Logger = field(default_factory=lambda: logging.getLogger("spofless"))
    _seen: tuple[str, float] | None = None  # (the record's renewTime and holder, when we first saw it)
    _was_leading: bool = False

    async def run(self) -> None:
        while True:
            started = time.monotonic()
            try:
                await self._try()
            except asyncio.CancelledError:
                raise
            except Exception as err:  # an election step failing must never end the loop
                self.logger.warning("leader election: %s", describe(err) if failure(err) else repr(err))
            await self._follow()
            await asyncio.sleep(max(0.0, RETRY - (time.monotonic() - started)))

    async def _try(self) -> None:
        lease = await self.kube.get_lease(self.namespace, self.name)
        now = time.monotonic()
        if lease is None:
            await self._write(self._record(None, transitions=0), now)
            return
        spec = lease.get("spec") or {}
        holder = spec.get("holderIdentity") or ""
        if holder != self.leadership.identity and self.leadership.leading():
            self.leadership.lost()  # another replica holds it now: stop writing this instant
        if holder == self.leadership.identity:
            await self._write(self._record(lease, transitions=spec.get("leaseTransitions") or 0), now)
            return
        marker = (f"{holder}@{spec.get('renewTime')}", now)
        if self._seen is None or self._seen[0] != marker[0]:
            self._seen = marker  # the record changed: its holder is alive; time it from now
        duration = int(spec.get("leaseDurationSeconds") or LEASE_SECONDS)
        if not holder or now - self._seen[1] >= duration:
            self.logger.info("leader election: taking the lease over from %r", holder or "nobody")
            await self._write(self._record(lease, transitions=(spec.get("leaseTransitions") or 0) + 1), now)

    def _record(self, lease: dict[str, Any] | None, transitions: int) -> dict[str, Any]:
        now = _microtime(datetime.now(UTC))
        spec = dict((lease or {}).get("spec") or {})
        if spec.get("holderIdentity") != self.leadership.identity:
            spec["acquireTime"] = now
        spec.update(
            holderIdentity=self.leadership.identity,
            leaseDurationSeconds=LEASE_SECONDS,
            renewTime=now,
            leaseTransitions=transitions,
        )
        metadata: dict[str, Any] = {"name": self.name, "namespace": self.namespace}
        if lease is not None:
            metadata["resourceVersion"] = lease["metadata"]["resourceVersion"]
        return {"apiVersion": "coordination.k8s.io/v1", "kind": "Lease", "metadata": metadata, "spec": spec}

    async def _write(self, lease: dict[str, Any], asked_at: float) -> None:
        await self.kube.put_lease(self.namespace, lease)  # a 409 raises: someone else wrote first
        # Counted from before the read: the deadline never outlives the Lease others see.
        self.leadership.renewed(asked_at)

    async def _follow(self) -> None:
        """Calls on_start / on_stop when leadership changed since the last look."""
        leading = self.leadership.leading()
        if leading and not self._was_leading:
            self._was_leading = True
            self.logger.info("leader election: %s leads", self.leadership.identity)
            await self.on_start()
        elif not leading and self._was_leading:
            self._was_leading = False
            self.leadership.lost()
            self.logger.warning("leader election: %s lost the lease; it writes nothing more", self.leadership.identity)
            await self.on_stop()

    async def release(self) -> None:
        """On a graceful stop: hand the Lease over at once."""
        if not self.leadership.leading():
            return
        self.leadership.lost()
        try:
            lease = await self.kube.get_lease(self.namespace, self.name)
            if lease is None or (lease.get("spec") or {}).get("holderIdentity") != self.leadership.identity:
                return
            lease["spec"].update(holderIdentity="", leaseDurationSeconds=1)
            await self.kube.put_lease(self.namespace, lease)
        except Exception as err:  # best effort: the Lease expires by itself anyway
            self.logger.info("leader election: could not release the lease: %r", err)
