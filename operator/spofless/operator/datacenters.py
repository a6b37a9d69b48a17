"""This data center in the store that spans the data centers (issue 22): its lease, its share of
each site, the sites' DNS records, and the view of the other members every pass reads.

- The leader replica holds an etcd lease (TTL `lease_seconds`, default 5 s) and renews it every third
  of that. Everything it publishes is attached to the lease, so a dead or cut-off data center drops out
  of the store, and so out of DNS, when the lease lapses, without anyone writing.
- Once a second it reads the members (a linearizable read: the store's majority answers it, or the
  read fails). That read is what `reachable` and `confirmed` stand on. A member whose lease lapsed is
  recorded as lost (`/spofless/lost/<member>`), so every member applies the same failback window when
  it returns. When the live set or the reachability changes, every site reports
  first and then moves (the engine's report_all), as for a zone.
- For each site with spec.dataCenters it publishes its share (`/spofless/sites/<ns>/<name>/<dc>`) and,
  as the core says, its address under the site's hostname in the SkyDNS layout CoreDNS's etcd plugin
  reads (`/skydns/<reversed hostname>/<dc>-<i>`). A write happens only when the value changes.
- Leaving DNS is a transaction guarded by the other data centers' shares as read: if one changed since
  (it lost its replicas too), nothing is deleted and the next round decides again. Two data centers
  emptying DNS at the same moment cannot both succeed.

Only the leader writes (the Lease gate); a standby holds no lease and publishes nothing.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import kopf
from pydantic import ValidationError

from spofless.core.judgement import findings
from spofless.core.model import kinds, names
from spofless.core.model.spec import DataCentersSpec, DependencySpec
from spofless.core.observed.datacenters import DataCenterView, MemberLease, Share
from spofless.core.observed.records import Observed
from spofless.core.placement import datacenters as dc_split
from spofless.operator import dependency_records
from spofless.operator.engine import Engine, SiteKey
from spofless.operator.etcd import Etcd, Unavailable, tls_from_dir
from spofless.operator.leader import Leadership

PREFIX = "/spofless"
DNS_PREFIX = "/skydns"
READ_EVERY = 1.0  # seconds between two reads of the members: how late a lapsed lease is noticed, at most
RETRY_EVERY = 0.25  # seconds before a failed renewal is tried again
SHARES_EVERY = 5  # members' reads between two reads of every site's shares (the findings' picture)
MEMBERS_EVERY = 30  # members' reads between two reads of the store's own member list

_log = logging.getLogger("spofless")


@dataclass(frozen=True)
class Settings:
    name: str
    endpoints: tuple[str, ...]
    tls_dir: str = ""
    lease_seconds: int = 5
    address: tuple[str, ...] = ()  # the data center's own address (an ingress), the last resort


SETTINGS: Settings | None = None


def configure(settings: Settings) -> None:
    """Called by `spofless run` before kopf starts, when it runs as one data center of several."""
    global SETTINGS
    SETTINGS = settings


def _now() -> datetime:
    return datetime.now(UTC)


def _time(text: str | None) -> datetime | None:
    try:
        return datetime.fromisoformat(text) if text else None
    except ValueError:
        return None


def dns_path(hostname: str) -> str:
    """The SkyDNS key of a name: its labels reversed under the prefix (shop.example.com -> /skydns/com/example/shop)."""
    return DNS_PREFIX + "/" + "/".join(reversed(hostname.strip(".").split(".")))


@dataclass
class Presence:
    """This data center's lease and view of the store; publishes the sites' shares and DNS records."""

    settings: Settings
    store: Etcd
    leadership: Leadership
    engine: Engine
    addresses: Callable[[SiteKey, Mapping[str, Any]], dc_split.Address | None]
    logger: logging.Logger = _log
    lease: int = 0
    joined: datetime | None = None
    live: tuple[MemberLease, ...] = ()
    lost_at: dict[str, datetime] = field(default_factory=dict)
    shares: dict[SiteKey, tuple[Share, ...]] = field(default_factory=dict)
    share_revisions: dict[str, int] = field(default_factory=dict)  # share key -> mod revision, as read
    store_members: dict[str, str] = field(default_factory=dict)
    last_majority: float | None = None  # monotonic time of the last successful linearizable read
    published: dict[str, str] = field(default_factory=dict)  # key -> value written under the lease
    _told: tuple[bool, frozenset[str]] | None = None  # what the engine last heard: (reachable, live members)
    _lapsed: float | None = None  # monotonic time this data center's own lease was last found lapsed
    _renewed: float | None = None  # monotonic time the lease was last taken or renewed
    _gone: frozenset[str] = frozenset()  # members seen live, absent since, their loss not recorded yet
    _rounds: int = 0

    # --- what a pass reads -----------------------------------------------------------------------

    def reachable(self) -> bool:
        return self.last_majority is not None and time.monotonic() - self.last_majority < self.settings.lease_seconds

    def view(self, key: SiteKey, body: Mapping[str, Any] | None = None) -> DataCenterView:
        return DataCenterView(
            local=self.settings.name,
            live=self.live,
            reachable=self.reachable(),
            confirmed=self.reachable(),  # the live set only ever comes from a majority read
            lost_at=dict(self.lost_at),
            shares=self.shares.get(key, ()),
            store_members=dict(self.store_members),
            lease_seconds=self.settings.lease_seconds,
        )

    # --- the loop --------------------------------------------------------------------------------

    async def run(self) -> None:
        """Two loops: the lease's renewals on their own clock (a long round of publishing never delays
        one), and the rounds that read the store and publish."""
        await asyncio.gather(self._hold_lease(), self._rounds_loop())

    async def _hold_lease(self) -> None:
        while True:
            lapsed = await self._attempt("renewing the lease", self._renew)
            if lapsed:
                continue  # take a new one at once
            if not self.lease:
                await asyncio.sleep(READ_EVERY)
            else:
                await asyncio.sleep(RETRY_EVERY if lapsed is None and self._may_still_renew() else
                                    self.settings.lease_seconds / 3)  # fmt: skip

    def _may_still_renew(self) -> bool:
        """A renewal failed (the store's leader died: an election), and the lease may still be alive: try
        again soon. The new leader gives every lease a fresh TTL, and waiting a third of it could let this
        one lapse. Past the TTL, the store is down or out of reach (no leader answers at once): no hurry."""
        return self._renewed is not None and time.monotonic() - self._renewed < self.settings.lease_seconds

    async def _renew(self) -> bool:
        """Takes, keeps or lets go of the lease; True when it was found lapsed (take a new one at once)."""
        if not self.leadership.leading():
            self._forget()
        elif self.lease == 0:
            await self._join()
        elif await self.store.keep_alive(self.lease) == 0:
            self.logger.warning("data centers: the lease of %s lapsed; taking a new one", self.settings.name)
            self.lease, self.published, self._lapsed = 0, {}, time.monotonic()
            return True
        else:
            self._renewed = time.monotonic()
        return False

    async def _rounds_loop(self) -> None:
        while True:
            started = time.monotonic()
            await self._attempt("a round", self._round)
            self._tell_engine()
            await asyncio.sleep(max(0.0, READ_EVERY - (time.monotonic() - started)))

    async def _round(self) -> bool:
        if self.leadership.leading() and self.lease:
            lease = self.lease
            await self._read()
            # Publish only from a view read under the lease it publishes with, one that lists this data
            # center: when the lease loop takes a new lease meanwhile (the old one lapsed or was revoked),
            # this view does not count it as returning, and would put it in DNS inside its failback window.
            if self.lease == lease and self.settings.name in self.view(("", "")).live_names():
                await self._publish(lease)
        return False

    async def _attempt(self, what: str, step: Callable[[], Awaitable[bool]]) -> bool | None:
        """One step of a loop; its failure is logged, never the end of the loop (None: it failed)."""
        try:
            return await step()
        except asyncio.CancelledError:
            raise
        except Unavailable as err:
            self.logger.warning("data centers: the store does not answer (%s): %s", what, err)
        except Exception:
            self.logger.exception("data centers: %s failed", what)
        return None

    def _forget(self) -> None:
        """A standby holds no lease: whatever it had lapses by itself within the TTL."""
        self.lease, self.published, self.joined = 0, {}, None
        self.last_majority, self._gone = None, frozenset()

    async def _join(self) -> None:
        """Takes a lease, or resumes the one the member record names (a new leader after a graceful
        handover, within the TTL): then the data center never looks lost to the others."""
        key = f"{PREFIX}/members/{self.settings.name}"
        record = await self.store.range(key)
        old = json.loads(record.kvs[0].value) if record.kvs else {}
        resumed = int(old.get("lease") or 0)
        if resumed and await self.store.keep_alive(resumed) > 0:
            self.lease = resumed
        else:
            self.lease = await self.store.grant(self.settings.lease_seconds)
        self._renewed = time.monotonic()
        self.joined = _time(old.get("joined")) if record.kvs else None
        self.joined = self.joined or _now()
        value = json.dumps({"joined": self.joined.isoformat(), "lease": str(self.lease)}, sort_keys=True)
        await self.store.put(key, value, self.lease)
        self.logger.info("data centers: %s holds lease %x (TTL %d s)", self.settings.name, self.lease,
                         self.settings.lease_seconds)  # fmt: skip

    async def _read(self) -> None:
        before = frozenset(m.name for m in self.live)
        members = await self.store.range(f"{PREFIX}/members/")
        self.last_majority = time.monotonic()
        self.live = tuple(
            MemberLease(kv.key.rsplit("/", 1)[-1], _time(json.loads(kv.value).get("joined")) or _now())
            for kv in members.kvs
        )
        view = self.view(("", ""))
        # Our own lease gone from the members (before the renewal says so), or lapsed a moment ago.
        own_lapse = self.settings.name not in view.live_names() or (
            self._lapsed is not None and time.monotonic() - self._lapsed < self.settings.lease_seconds
        )
        self._gone = dc_split.unrecorded(self._gone, before, view)
        for member in dc_split.newly_lost(self._gone, view, own_lapse):
            self.logger.warning("data centers: %s lost (its lease lapsed)", member)
            # Only while it holds no lease: a member back meanwhile is not returning from this loss.
            await self.store.put_if_absent(f"{PREFIX}/lost/{member}", json.dumps({"at": _now().isoformat()}),
                                           absent=f"{PREFIX}/members/{member}")  # fmt: skip
            self._gone -= {member}
        lost = await self.store.range(f"{PREFIX}/lost/")  # a few keys: read every round, a return is never missed
        self.lost_at = {
            kv.key.rsplit("/", 1)[-1]: at for kv in lost.kvs if (at := _time(json.loads(kv.value).get("at")))
        }
        self._rounds += 1
        if self._rounds % SHARES_EVERY == 1 or before != view.live_names():
            await self._read_shares()
        if self._rounds % MEMBERS_EVERY == 1:
            # etcd members are named after the data center they run in; any other name is a third site's.
            self.store_members = {m.name: m.name for m in await self.store.members()}

    async def _read_shares(self) -> None:
        read = await self.store.range(f"{PREFIX}/sites/")
        shares: dict[SiteKey, list[Share]] = {}
        self.share_revisions = {}
        for kv in read.kvs:
            parts = kv.key.split("/")  # "", spofless, sites, ns, name, dc
            if len(parts) != 6:
                continue
            self.share_revisions[kv.key] = kv.mod_revision
            shares.setdefault((parts[3], parts[4]), []).append(_share(parts[5], kv.value))
        before, self.shares = self.shares, {k: tuple(v) for k, v in shares.items()}
        for key in self.shares.keys() | before.keys():  # another data center's share changed: the verdict may
            if before.get(key) != self.shares.get(key) and not self._own_only(before.get(key), self.shares.get(key)):
                self.engine.enqueue(key, "datacenter")

    def _own_only(self, old: tuple[Share, ...] | None, new: tuple[Share, ...] | None) -> bool:
        """Only this data center's own share changed (it wrote it): nothing new for its passes."""
        others = [tuple(s for s in shares or () if s.data_center != self.settings.name) for shares in (old, new)]
        return others[0] == others[1]

    def _tell_engine(self) -> None:
        """A member lost or back, or the store's majority lost or found: every site reports, then moves."""
        names_ = frozenset(m.name for m in self.live)
        state = (self.reachable(), names_)
        if state != self._told:
            if self._told is not None:
                self.logger.warning("data centers: live %s, store %s", ", ".join(sorted(names_)) or "none",
                                    "reachable" if state[0] else "NOT reachable")  # fmt: skip
                self.engine.report_all("datacenter")
            self._told = state

    # --- publishing ------------------------------------------------------------------------------

    async def _publish(self, lease: int | None = None) -> None:
        """Writes this data center's shares and DNS records under `lease` (the current one by default),
        and stops if the lease loop takes another one meanwhile."""
        lease = self.lease if lease is None else lease
        indices = self.engine.indices
        if indices is None or not self.engine.indexed:
            return
        wanted: dict[str, str] = {}
        withdraw: dict[str, dict[str, int]] = {}  # DNS keys to delete -> the guard they need
        now = _now()
        for key in indices.site_keys():
            body = indices.site(key)
            spec = _dc_spec(body)
            if body is None or spec is None:
                continue
            dcs, raw = spec
            view = self.view(key)
            plan = dc_split.split(int(raw.get("replicas", 3)), int(raw.get("minZones", 2)), dcs, view,
                                  f"{key[0]}/{key[1]}", now)  # fmt: skip
            ready = self._ready(key)
            where = self.addresses(key, body)
            dns = dc_split.in_dns(view, plan, ready) if where is not None else False
            deps = self._dependencies(key, raw)
            share = {"ready": ready, "desired": plan.replicas, "addresses": list(where.hosts) if where else [],
                     "inDns": bool(dns if dns is not None else False), "dependencies": deps}  # fmt: skip
            wanted[f"{PREFIX}/sites/{key[0]}/{key[1]}/{self.settings.name}"] = json.dumps(share, sort_keys=True)
            base = dns_path(dcs.hostname) + "/"
            if dns is True:
                wanted.update(self._records(dcs, where))
            elif dns is None:  # a hold: DNS stays as it is
                wanted.update({k: v for k, v in self.published.items() if k.startswith(base)})
            else:
                guard = {
                    k: rev
                    for k, rev in self.share_revisions.items()
                    if k.startswith(f"{PREFIX}/sites/{key[0]}/{key[1]}/") and not k.endswith(f"/{self.settings.name}")
                }
                withdraw.update({k: guard for k in self.published if k.startswith(base)})
        for path, value in wanted.items():
            if self.lease != lease:
                return
            if self.published.get(path) != value:
                await self.store.put(path, value, lease)
                self.published[path] = value
        for path in [k for k in self.published if k not in wanted and k not in withdraw]:
            await self.store.delete(path)  # a site gone, or a record it no longer has
            del self.published[path]
        for path, guard in withdraw.items():
            if await self.store.delete_if_unchanged([path], guard):
                del self.published[path]
            else:  # another data center's share changed since it was read: decide again on fresh shares
                await self._read_shares()

    def _records(self, dcs: DataCentersSpec, where: dc_split.Address | None) -> dict[str, str]:
        if where is None:
            return {}
        base = dns_path(dcs.hostname)
        return {
            f"{base}/{self.settings.name}-{i}": json.dumps(
                {"host": host, "ttl": dcs.ttl_seconds, **({"port": where.port} if where.port else {})}, sort_keys=True
            )
            for i, host in enumerate(where.hosts)
        }

    def _ready(self, key: SiteKey) -> int:
        """The site's ready pods here, counted as a pass counts them."""
        indices = self.engine.indices
        assert indices is not None
        here = Observed(nodes=tuple(indices.nodes.get(None, ())), pods=tuple(indices.pods.get(key, ())))
        return findings.readiness(here, []).total

    def _dependencies(self, key: SiteKey, raw: Mapping[str, Any]) -> dict[str, int]:
        indices = self.engine.indices
        assert indices is not None
        required = [d for d in _deps(raw) if d.required]
        if not required:
            return {}
        seen = dependency_records.gather(key[0], raw, indices.dependencies, indices.children, indices.endpoints)
        ready = {f"{s.namespace}/{s.name}": sum(1 for e in s.endpoints if e.ready) for s in seen}
        return {d.service: ready.get(d.service if "/" in d.service else f"{key[0]}/{d.service}", 0) for d in required}


def _share(member: str, value: str) -> Share:
    try:
        data = json.loads(value)
        return Share(
            data_center=member,
            ready=int(data.get("ready") or 0),
            desired=int(data.get("desired") or 0),
            addresses=tuple(data.get("addresses") or ()),
            in_dns=bool(data.get("inDns")),
            room=data.get("room"),
            dependencies={str(k): int(v) for k, v in (data.get("dependencies") or {}).items()},
        )
    except (ValueError, TypeError, AttributeError):
        return Share(data_center=member, ready=0, desired=0)  # unreadable: counts as nothing, never as ready


def _dc_spec(body: Mapping[str, Any] | None) -> tuple[DataCentersSpec, Mapping[str, Any]] | None:
    raw = (body or {}).get("spec") or {}
    if not raw.get("dataCenters"):
        return None
    try:
        return DataCentersSpec.model_validate(raw["dataCenters"]), raw
    except ValidationError:
        return None  # the site's own pass reports it Invalid


def _deps(raw: Mapping[str, Any]) -> list[DependencySpec]:
    out = []
    for entry in raw.get("dependsOn") or ():
        try:
            out.append(DependencySpec.model_validate(entry))
        except ValidationError:
            continue
    return out


# --- where the site is reached: two small indices, for data centers only -------------------------


def _ingress(body: kopf.Body) -> tuple[str, ...]:
    entries = ((body.get("status") or {}).get("loadBalancer") or {}).get("ingress") or []
    return tuple(e.get("ip") or e.get("hostname") or "" for e in entries if e.get("ip") or e.get("hostname"))


def _node_address(body: kopf.Body) -> str | None:
    ready = any(
        c.get("type") == "Ready" and c.get("status") == "True" for c in body.get("status", {}).get("conditions") or []
    )
    if not ready:
        return None
    by_type = {a.get("type"): a.get("address") for a in body.get("status", {}).get("addresses") or []}
    return by_type.get("ExternalIP") or by_type.get("InternalIP")


def addresses_from(services: Mapping[SiteKey, Any], nodes: Mapping[None, Any], fallback: tuple[str, ...]) -> Callable[
    [SiteKey, Mapping[str, Any]], dc_split.Address | None
]:  # fmt: skip
    def find(key: SiteKey, body: Mapping[str, Any]) -> dc_split.Address | None:
        service = next(iter(services.get(key, ())), None)
        kind, ingress, node_port = service if service is not None else ("ClusterIP", (), None)
        node_ips = tuple(sorted({a for a in nodes.get(None, ()) if a}))
        return dc_split.address(kind, ingress, node_port, node_ips, fallback)

    return find


def register() -> None:
    """The kopf registrations of a data center: its two indices and the presence's start and stop."""

    # Explicit ids: kopf passes an index to handlers under its handler's id, which for a nested
    # function would be "register.<locals>...".
    @kopf.index(group="", version="v1", plural="services", labels={names.LABEL_MANAGED_BY: names.MANAGED_BY},
                id="dc_service_index")  # fmt: skip
    async def dc_service_index(namespace: str, labels: kopf.Labels, body: kopf.Body, **_: Any) -> dict[SiteKey, Any]:
        ports = (body.get("spec") or {}).get("ports") or []
        node_port = next((p.get("nodePort") for p in ports if p.get("nodePort")), None)
        kind = (body.get("spec") or {}).get("type") or "ClusterIP"
        return {(namespace, labels.get(names.LABEL_SITE, "")): (kind, _ingress(body), node_port)}

    @kopf.index(group=kinds.NODE.group, version=kinds.NODE.version, plural=kinds.NODE.plural, id="dc_node_index")
    async def dc_node_index(body: kopf.Body, **_: Any) -> dict[None, str | None]:
        return {None: _node_address(body)}

    @kopf.on.startup(id="dc_start")
    async def dc_start(memo: kopf.Memo, dc_service_index: kopf.Index[SiteKey, Any],
                       dc_node_index: kopf.Index[None, str | None], **_: Any) -> None:  # fmt: skip
        settings = SETTINGS
        assert settings is not None
        state = getattr(memo, "state", None)  # handlers.startup runs first (registered first)
        if state is None:
            raise kopf.TemporaryError("the engine is not started yet", delay=1)
        store = Etcd(settings.endpoints, tls_from_dir(settings.tls_dir))
        presence = Presence(settings, store, state.engine.leadership, state.engine,
                            addresses_from(dc_service_index, dc_node_index, settings.address))  # fmt: skip
        assert state.engine.indices is not None
        state.engine.indices.datacenters = presence.view
        task = asyncio.get_running_loop().create_task(presence.run(), name="spofless-datacenters")
        state.tasks.add(task)
        memo.datacenters = presence

    @kopf.on.cleanup(id="dc_stop")
    async def dc_stop(memo: kopf.Memo, **_: Any) -> None:
        presence: Presence | None = getattr(memo, "datacenters", None)
        if presence is not None:
            await presence.store.close()
