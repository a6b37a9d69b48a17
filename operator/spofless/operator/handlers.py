"""kopf registrations, and nothing else: watch, index, and hand each site to the reconciler.

What a site is made of lives in kopf indices, filled from watches; a change to a site, one
of its children, one of its pods or endpoints, or a node, triggers the same idempotent
reconcile. There is no kopf timer and no create/update handler: a timer would put a finalizer on
every site, so deleting a site would hang whenever no operator runs, and kopf's change handlers
write a diff base annotation on every site. The reconciler wakes itself for timed steps (failback)
and for retries, and never raises for a failed API call, so kopf never retries on its own.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import kopf

from spofless.core.judgement import headroom
from spofless.core.model import kinds, names
from spofless.core.model.events import Event
from spofless.core.model.spec import DEFAULT_TOPOLOGY_KEY
from spofless.core.observed import parse, records
from spofless.kube import Kube
from spofless.operator import compact, dependency_records, usage
from spofless.operator.fleet import Fleet
from spofless.operator.reconciler import Reconciler, SiteKey

OWNED_LABELS = {names.LABEL_MANAGED_BY: names.MANAGED_BY}
NOT_OWNED_LABELS = {names.LABEL_MANAGED_BY: kopf.ABSENT}
PEERING_LIFETIME = 15  # seconds
HEADROOM_DELAY = 2.0  # seconds: one look at the fleet's headroom per burst of pod changes
STALL_SECONDS = 120.0  # a pass running this long is wedged (API calls time out after 30 s): liveness fails

_log = logging.getLogger("spofless")


def _selector(kind: kinds.Kind) -> dict[str, str]:
    """kopf's resource selector for a kind of the table."""
    return {"group": kind.group, "version": kind.version, "plural": kind.plural}


SITE = _selector(kinds.SITE)

SiteIndex = kopf.Index[SiteKey, compact.Compact]
NodeIndex = kopf.Index[None, records.Node]
PodIndex = kopf.Index[SiteKey, records.Pod]
EndpointIndex = kopf.Index[SiteKey, tuple[records.Endpoint, ...]]
ChildIndex = kopf.Index[SiteKey, records.Child]
DependencyIndex = kopf.Index[dependency_records.IndexKey, dependency_records.Record]
DependentsIndex = kopf.Index[tuple[str, str], SiteKey]


def _post(body: Mapping[str, Any], event: Event) -> None:
    kopf.event(dict(body), type=event.type, reason=event.reason, message=event.message)


class NoDiffBase(kopf.DiffBaseStorage):
    """kopf builds a diff base (a deep copy of the object, minus its status) for every event of every
    watched object, for its create and update handlers. spofless has none of those, so it keeps none:
    that deep copy was a tenth of the operator's CPU with 1000 sites (py-spy)."""

    def build(self, *, body: kopf.Body, extra_fields: Any = None) -> kopf.BodyEssence:
        return kopf.BodyEssence()

    def fetch(self, *, body: kopf.Body) -> kopf.BodyEssence | None:
        return None

    def store(self, *, body: kopf.Body, patch: kopf.Patch, essence: kopf.BodyEssence) -> None:
        return None


@kopf.on.startup()
async def startup(settings: kopf.OperatorSettings, memo: kopf.Memo, **_: Any) -> None:
    settings.watching.server_timeout = 300  # re-list now and then; watches also reconnect by themselves
    settings.watching.client_timeout = 330
    settings.networking.request_timeout = 30
    # kopf runs one worker per object with events; an idle one lingers this long. The default 5 s
    # keeps thousands of them (with their queues) alive while a fleet of sites rolls out.
    settings.batching.idle_timeout = 1.0
    # A standby takes over once the active replica's peering record is this old; the active one
    # refreshes it every 5-10 s. Shorter means a faster takeover and more peering writes.
    settings.peering.lifetime = PEERING_LIFETIME
    settings.peering.stealth = True
    settings.persistence.diffbase_storage = NoDiffBase()
    memo.reconciler = Reconciler(kube=await Kube.connect(), post=_post, logger=_log)
    memo.nodes = {}
    memo.seen = {}  # object uid -> fingerprint of what a pass reads of it
    memo.fleet = Fleet(_log)
    memo.book = usage.Book()  # per-node sums of what every pod requests: the headroom's input
    memo.unabsorbable = None  # the zones whose loss the fleet could not absorb, last time looked
    memo.headroom_check = None  # the pending look, HEADROOM_DELAY after a pod's load changed
    memo.topology_keys = {DEFAULT_TOPOLOGY_KEY}  # the sites' zone keys (walking 1000 sites per look cost 9 % CPU)


@kopf.on.cleanup()
async def cleanup(memo: kopf.Memo, **_: Any) -> None:
    await memo.fleet.close()
    await memo.reconciler.close()


# --- indices: what the reconciler reads instead of asking the API ---------------------------
# Async, though they never await: kopf runs a sync handler in a thread pool, which cost a fifth of
# the operator's CPU in a fleet failover (py-spy); an async one runs on the loop.


@kopf.index(**SITE)
async def site_index(namespace: str, name: str, body: kopf.Body, **_: Any) -> dict[SiteKey, compact.Compact]:
    return {(namespace, name): compact.site_from(body)}


@kopf.index(**_selector(kinds.NODE))
async def node_index(body: kopf.Body, **_: Any) -> dict[None, records.Node]:
    return {None: parse.node_from(body)}


@kopf.index(**_selector(kinds.POD), labels=OWNED_LABELS)
async def pod_index(namespace: str, labels: kopf.Labels, body: kopf.Body, **_: Any) -> dict[SiteKey, records.Pod]:
    return {(namespace, labels.get(names.LABEL_SITE, "")): parse.pod_from(body)}


@kopf.index(**_selector(kinds.ENDPOINT_SLICE), labels=OWNED_LABELS)
async def endpoint_index(
    namespace: str, labels: kopf.Labels, body: kopf.Body, **_: Any
) -> dict[SiteKey, tuple[records.Endpoint, ...]]:
    return {(namespace, labels.get(names.LABEL_SITE, "")): parse.endpoints_from(body)}


async def child_index(namespace: str, labels: kopf.Labels, body: kopf.Body, **_: Any) -> dict[SiteKey, records.Child]:
    return {(namespace, labels.get(names.LABEL_SITE, "")): parse.child_from(dict(body))}


for _kind in kinds.OWNED:  # one index over every kind a site owns
    kopf.index(**_selector(_kind), labels=OWNED_LABELS)(child_index)


@dataclass(frozen=True)
class Indices:
    """The indices one pass reads, as kopf hands them to a handler."""

    sites: SiteIndex
    nodes: NodeIndex
    pods: PodIndex
    endpoints: EndpointIndex
    children: ChildIndex
    usage: Mapping[str, records.Load]  # node -> what its pods request (the headroom's book)
    dependencies: DependencyIndex

    def load(self, key: SiteKey) -> tuple[Mapping[str, Any], records.Observed] | None:
        """The site's body and what is observed of it, or None once it is gone."""
        bodies = list(self.sites.get(key, ()))
        if not bodies:
            return None
        seen = records.Observed(
            nodes=tuple(self.nodes.get(None, ())),
            pods=tuple(self.pods.get(key, ())),
            endpoints=tuple(e for part in self.endpoints.get(key, ()) for e in part),
            children=tuple(self.children.get(key, ())),
            usage=self.usage,
            dependencies=dependency_records.gather(
                key[0], bodies[0].get("spec") or {}, self.dependencies, self.children, self.endpoints
            ),
        )
        return bodies[0], seen


async def _reconcile(memo: kopf.Memo, key: SiteKey, indices: Indices, status_only: bool = False) -> None:
    async def load() -> tuple[Mapping[str, Any], records.Observed] | None:
        return indices.load(key)

    reconciler: Reconciler = memo.reconciler
    await reconciler.request(key, load, status_only)


# --- triggers ------------------------------------------------------------------------------


@kopf.on.event(**SITE)
async def site_changed(
    type: str | None,
    uid: str,
    namespace: str,
    name: str,
    body: kopf.Body,
    memo: kopf.Memo,
    site_index: SiteIndex,
    node_index: NodeIndex,
    pod_index: PodIndex,
    endpoint_index: EndpointIndex,
    child_index: ChildIndex,
    dependency_index: DependencyIndex,
    **_: Any,
) -> None:
    """A site listed at start-up, created, changed or deleted. A plain watch, not kopf's create and
    update handlers: those write an annotation on every site (a diff base), and a site's own status
    patches need no pass."""
    seen: dict[str, int] = memo.seen
    if type == "DELETED":
        seen.pop(uid, None)
        memo.reconciler.forget((namespace, name))
        return
    meta = body.metadata
    notes = {k: v for k, v in meta.annotations.items() if not k.startswith("kopf.zalando.org/")}
    relevant = hash(
        json.dumps([dict(body.spec), dict(meta.labels), notes, meta.get("deletionTimestamp")], sort_keys=True)
    )
    if seen.get(uid) == relevant:
        return  # our own status patch, or kopf's bookkeeping: nothing a decision reads
    seen[uid] = relevant
    memo.topology_keys.add(dict(body.spec).get("topologyKey") or DEFAULT_TOPOLOGY_KEY)
    indices = Indices(
        site_index, node_index, pod_index, endpoint_index, child_index, memo.book.per_node, dependency_index
    )
    await _reconcile(memo, (namespace, name), indices)


def _relevant(plural: str, body: kopf.Body) -> int:
    """A fingerprint of what a pass reads of one object: a change elsewhere (a Deployment's status,
    a pod's IP, a resourceVersion) cannot change a decision, so it triggers no pass."""
    if plural == kinds.POD.plural:
        return hash(parse.pod_from(body))
    if plural == kinds.ENDPOINT_SLICE.plural:
        return hash(parse.endpoints_from(body))
    return compact.fingerprint(parse.child_from(body))


async def child_changed(
    type: str | None,
    uid: str,
    namespace: str,
    labels: kopf.Labels,
    body: kopf.Body,
    resource: kopf.Resource,
    memo: kopf.Memo,
    site_index: SiteIndex,
    node_index: NodeIndex,
    pod_index: PodIndex,
    endpoint_index: EndpointIndex,
    child_index: ChildIndex,
    dependency_index: DependencyIndex,
    **_: Any,
) -> None:
    site = labels.get(names.LABEL_SITE)
    if not site:
        return
    seen: dict[str, int] = memo.seen
    if type == "DELETED":
        seen.pop(uid, None)
    else:
        relevant = _relevant(resource.plural, body)
        if seen.get(uid) == relevant:
            return
        seen[uid] = relevant
    indices = Indices(
        site_index, node_index, pod_index, endpoint_index, child_index, memo.book.per_node, dependency_index
    )
    await _reconcile(memo, (namespace, site), indices)


for _kind in kinds.LABELLED:  # a change to anything of a site's triggers its pass
    kopf.on.event(**_selector(_kind), labels=OWNED_LABELS)(child_changed)


@kopf.on.event(**_selector(kinds.NODE))
async def node_changed(
    type: str | None,
    name: str,
    body: kopf.Body,
    memo: kopf.Memo,
    site_index: SiteIndex,
    node_index: NodeIndex,
    pod_index: PodIndex,
    endpoint_index: EndpointIndex,
    child_index: ChildIndex,
    dependency_index: DependencyIndex,
    **_: Any,
) -> None:
    """A node that turns Ready or NotReady, or comes or goes, may change every site's zones: one
    fleet round (statuses first, then moves; see fleet.py), however many nodes change at once."""
    record = None if type == "DELETED" else parse.node_from(body)
    if memo.nodes.get(name) == record:
        return  # a heartbeat or an unrelated field: nothing a site cares about
    memo.nodes[name] = record
    _fleet_round(
        memo,
        Indices(site_index, node_index, pod_index, endpoint_index, child_index, memo.book.per_node, dependency_index),
    )


@kopf.on.event(**_selector(kinds.POD))
async def pod_load(
    type: str | None,
    uid: str,
    body: kopf.Body,
    memo: kopf.Memo,
    site_index: SiteIndex,
    node_index: NodeIndex,
    pod_index: PodIndex,
    endpoint_index: EndpointIndex,
    child_index: ChildIndex,
    dependency_index: DependencyIndex,
    **_: Any,
) -> None:
    """Every pod of the cluster, reduced to its node and requests, summed per node (the headroom).
    When the room for a zone's loss flips, every site's what-if is redone (a fleet round)."""
    if memo.book.update(uid, None if type == "DELETED" else parse.pod_load_from(body)) and not memo.headroom_check:
        indices = Indices(
            site_index, node_index, pod_index, endpoint_index, child_index, memo.book.per_node, dependency_index
        )
        memo.headroom_check = asyncio.get_running_loop().call_later(HEADROOM_DELAY, _headroom_changed, memo, indices)


def _headroom_changed(memo: kopf.Memo, indices: Indices) -> None:
    memo.headroom_check = None
    now = headroom.unabsorbable(indices.nodes.get(None, ()), memo.book.per_node, memo.topology_keys)
    before, memo.unabsorbable = memo.unabsorbable, now
    if before is not None and now != before:
        _fleet_round(memo, indices)


def _fleet_round(memo: kopf.Memo, indices: Indices) -> None:
    async def run_pass(key: SiteKey, status_only: bool) -> None:
        await _reconcile(memo, key, indices, status_only)

    memo.fleet.touch(lambda: list(indices.sites), run_pass)


# --- dependencies: the Services of spec.dependsOn, read only -------------------------------------
# One index over what is not a site's own (a site's Service and endpoints are in the indices above),
# reduced to the few fields the analysis reads; a change passes exactly the sites that name it.


@kopf.index(**_selector(kinds.SERVICE), labels=NOT_OWNED_LABELS)
@kopf.index(**_selector(kinds.ENDPOINT_SLICE), labels=NOT_OWNED_LABELS)
@kopf.index(**_selector(kinds.DEPLOYMENT), labels=NOT_OWNED_LABELS)
@kopf.index(**_selector(kinds.STATEFUL_SET))
async def dependency_index(body: kopf.Body, **_: Any) -> dict[dependency_records.IndexKey, dependency_records.Record]:
    return dependency_records.index_entry(body, names.LABEL_SITE)


@kopf.index(**SITE)
async def dependents_index(namespace: str, name: str, spec: kopf.Spec, **_: Any) -> dict[tuple[str, str], SiteKey]:
    return dependency_records.dependents(namespace, name, spec)


@kopf.on.event(**_selector(kinds.SERVICE))
@kopf.on.event(**_selector(kinds.ENDPOINT_SLICE))
@kopf.on.event(**_selector(kinds.DEPLOYMENT), labels=NOT_OWNED_LABELS)
@kopf.on.event(**_selector(kinds.STATEFUL_SET))
async def dependency_changed(
    type: str | None,
    uid: str,
    body: kopf.Body,
    memo: kopf.Memo,
    dependents_index: DependentsIndex,
    site_index: SiteIndex,
    node_index: NodeIndex,
    pod_index: PodIndex,
    endpoint_index: EndpointIndex,
    child_index: ChildIndex,
    dependency_index: DependencyIndex,
    **_: Any,
) -> None:
    """A Service appearing or going, its endpoints, or a workload's replicas in its namespace changing:
    a pass of exactly the sites that depend on it (nothing for a change the analysis does not read)."""
    key = dependency_records.trigger_key(body)
    sites = list(dependents_index.get(key, ())) if key else []
    seen: dict[str, int] = memo.seen
    mark = f"dependency:{uid}"
    if not sites or type == "DELETED":
        seen.pop(mark, None)
        if not sites:
            return
    else:
        relevant = hash(tuple(dependency_records.index_entry(body, names.LABEL_SITE).items()))
        if seen.get(mark) == relevant:
            return
        seen[mark] = relevant
    indices = Indices(
        site_index, node_index, pod_index, endpoint_index, child_index, memo.book.per_node, dependency_index
    )
    await asyncio.gather(*(_reconcile(memo, site, indices) for site in sites))


@kopf.on.probe(id="longest_pass_seconds")
async def longest_pass(memo: kopf.Memo, **_: Any) -> float:
    """Fails the liveness endpoint when a reconcile is wedged. (kopf's endpoint itself stops
    answering when the event loop is blocked; a paused standby runs no pass and stays live.)"""
    reconciler: Reconciler = memo.reconciler
    longest = reconciler.longest_pass()
    if longest > STALL_SECONDS:
        raise kopf.PermanentError(f"a reconcile has been running for {longest:.0f} s")
    return round(longest, 3)
