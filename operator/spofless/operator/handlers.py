"""kopf registrations, and nothing else: watch, index, and map each event to the site keys it
concerns, for the engine's work queue.

What a site is made of lives in indices filled from watches: kopf's, and the operator's own for
pods and EndpointSlices (reflector.py, podwatch.py, slicewatch.py). An event never runs a pass
itself: it names the sites to pass (a change to a site, one of its children, pods or endpoints, a
dependency) and the engine's workers run them. Node events go to the cluster's one zone model,
which says whether every site must report (a zone lost or back) or only pass a moment later.

There is no kopf timer, change handler or peering: a timer would put a finalizer on every site (so
deleting one would hang whenever no operator runs), change handlers write a diff base annotation on
every site, and peering pauses only kopf's own watches (leader.py has the Lease that gates writes).
"""

from __future__ import annotations

import asyncio
import functools
import json
import logging
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import kopf

from spofless.core.model import kinds, names
from spofless.core.model.events import Event
from spofless.core.model.spec import DEFAULT_TOPOLOGY_KEY
from spofless.core.observed import parse, records
from spofless.kube import CONNECT_TIMEOUT, collection
from spofless.operator import compact, dependency_records
from spofless.operator.client import ACCOUNT, Client, pod_credentials
from spofless.operator.engine import Engine, Indices
from spofless.operator.events import EventSender
from spofless.operator.leader import Elector, Leadership
from spofless.operator.leasewatch import NodeLeases
from spofless.operator.objectindex import Merged
from spofless.operator.overlay import Overlay
from spofless.operator.podwatch import Pods
from spofless.operator.queue import Lane
from spofless.operator.reconciler import Reconciler
from spofless.operator.reflector import Reflector
from spofless.operator.silencewatch import SilenceWatch
from spofless.operator.slicewatch import EndpointSlices

SiteKey = tuple[str, str]
OWNED_LABELS = {names.LABEL_MANAGED_BY: names.MANAGED_BY}
NOT_OWNED_LABELS = {names.LABEL_MANAGED_BY: kopf.ABSENT}
STALL_SECONDS = 120.0  # a pass running this long is wedged (API calls time out after 30 s): liveness fails

_log = logging.getLogger("spofless")


@dataclass
class Config:
    """Set by `spofless run` before kopf starts."""

    identity: str = "spofless"
    leader_election: bool = False  # False: this replica writes from the start (standalone, tests)
    lease_namespace: str = "spofless-system"
    lease_name: str = "spofless"
    silent_zones: bool = True  # judge zone silence from the node Leases (leasewatch.py, silencewatch.py)
    namespaces: tuple[str, ...] = ()  # the namespaces served (exact names); empty: the whole cluster
    fold_counts: float = 0.0  # seconds a change of ready counts alone may wait (`spofless run --fold-counts`)


CONFIG = Config()


@dataclass
class State:
    """Everything the handlers share, in one object: kopf gives each handler its own shallow copy of
    the memo, so an attribute assigned on a memo would stay on that copy; this object is shared."""

    engine: Engine
    kube: Client
    elector: Elector | None
    pods: Pods
    seen: dict[str, int] = field(default_factory=dict)  # object uid -> fingerprint of what a pass reads
    events: EventSender | None = None
    tasks: set[asyncio.Task[None]] = field(default_factory=set)


def _selector(kind: kinds.Kind) -> dict[str, str]:
    """kopf's resource selector for a kind of the table."""
    return {"group": kind.group, "version": kind.version, "plural": kind.plural}


SITE = _selector(kinds.SITE)


def _urls(kind: kinds.Kind) -> list[str]:
    """Where to list and watch a kind: the whole cluster, or each namespace served."""
    if not CONFIG.namespaces:
        return [collection(kind)]
    return [collection(kind, namespace) for namespace in CONFIG.namespaces]


SiteIndex = kopf.Index[SiteKey, compact.JsonText]
NodeIndex = kopf.Index[None, records.Node]
ChildIndex = kopf.Index[SiteKey, records.Child]
DependencyIndex = kopf.Index[dependency_records.IndexKey, dependency_records.Record]
DependentsIndex = kopf.Index[tuple[str, str], SiteKey]


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


def login(**kwargs: Any) -> kopf.ConnectionInfo | None:
    """kopf's watches reach the API server as the operator's own calls do. In a pod: at the kubernetes
    Service's address, not at kopf's default https://kubernetes.default.svc, a name only the cluster's
    DNS answers. While that DNS does not answer (its pods restarting with the node, or lost with a
    zone), kopf could not watch at all: a data center's spofless back from a power cut waited on it."""
    found = pod_credentials()
    if found is None:
        return kopf.login_with_service_account(**kwargs) or kopf.login_with_kubeconfig(**kwargs)
    settings: kopf.OperatorSettings = kwargs["settings"]
    namespace = None
    if os.path.exists(f"{ACCOUNT}/namespace"):
        with open(f"{ACCOUNT}/namespace", encoding="utf-8") as f:
            namespace = f.read().strip() or None
    return kopf.ConnectionInfo(server=found.server, ca_path=found.ca_file, token=found.token,
                               default_namespace=namespace, trust_env=settings.networking.trust_env)  # fmt: skip


kopf.on.login(id="login")(login)  # registered apart: the function keeps its own signature (tests call it)


@kopf.on.startup()
async def startup(
    settings: kopf.OperatorSettings,
    memo: kopf.Memo,
    site_index: SiteIndex,
    node_index: NodeIndex,
    child_index: ChildIndex,
    dependency_index: DependencyIndex,
    dependents_index: DependentsIndex,
    **_: Any,
) -> None:
    settings.watching.server_timeout = 300  # re-list now and then; watches also reconnect by themselves
    settings.watching.client_timeout = 330
    settings.networking.request_timeout = 30
    settings.networking.connect_timeout = CONNECT_TIMEOUT  # as the operator's own calls (spofless.kube)
    # kopf runs one worker per object with events; an idle one lingers this long. The default 5 s
    # keeps thousands of them (with their queues) alive while a fleet of sites rolls out.
    settings.batching.idle_timeout = 1.0
    settings.persistence.diffbase_storage = NoDiffBase()
    kube = await Client.connect(CONFIG.identity)
    leadership = Leadership(CONFIG.identity, always=not CONFIG.leader_election)

    async def send(body: Mapping[str, Any], event: Event) -> None:  # its user agent names the replica
        await kube.post_event(body, event, "spofless", CONFIG.identity)

    events = EventSender(send, leadership, logger=_log)
    events.start()
    reconciler = Reconciler(kube=kube, post=events.post, leadership=leadership, overlay=Overlay(), logger=_log,
                            fold_counts=CONFIG.fold_counts)  # fmt: skip
    engine = Engine(reconciler=reconciler, leadership=leadership, logger=_log)
    if CONFIG.silent_zones:
        engine.silence = SilenceWatch(NodeLeases(kube), engine.report_all, engine.later, logger=_log)
    pods = Pods(engine, CONFIG.lease_namespace)
    slices = EndpointSlices(engine, dependents_index)
    dependencies = Merged(dependency_index, slices.services)
    engine.start(
        Indices(site_index, node_index, pods.index, slices.sites, child_index, dependencies, pods.loads.per_node)
    )
    reflectors = [
        Reflector(kube, url, apply, url, on_listed=functools.partial(engine.mark_indexed, url), logger=_log)
        for kind, apply in ((kinds.POD, pods.apply), (kinds.ENDPOINT_SLICE, slices.apply))
        for url in _urls(kind)
    ]
    engine.expect(*(r.what for r in reflectors))
    elector = None
    if CONFIG.leader_election:
        elector = Elector(
            kube, CONFIG.lease_namespace, CONFIG.lease_name, leadership, engine.lead, engine.step_down, _log
        )
    else:
        await engine.lead()
    memo.state = State(engine=engine, kube=kube, elector=elector, pods=pods, events=events)
    for reflector in reflectors:
        task = asyncio.get_running_loop().create_task(reflector.run(), name=f"spofless-watch-{reflector.what}")
        memo.state.tasks.add(task)
    if elector is not None:
        task = asyncio.get_running_loop().create_task(elector.run(), name="spofless-leader-election")
        memo.state.tasks.add(task)


@kopf.on.cleanup()
async def cleanup(memo: kopf.Memo, **_: Any) -> None:
    state: State = memo.state
    for task in state.tasks:
        task.cancel()
    state.pods.close()
    if state.elector is not None:
        await state.elector.release()
    await state.engine.close()
    if state.events is not None:
        await state.events.close()
    await state.kube.close()


# --- indices: what a pass reads instead of asking the API ------------------------------------
# Pods and EndpointSlices have their own watches and indices (podwatch.py, slicewatch.py).
# Async, though they never await: kopf runs a sync handler in a thread pool, which cost a fifth of
# the operator's CPU in a fleet failover (py-spy); an async one runs on the loop.


@kopf.index(**SITE)
async def site_index(namespace: str, name: str, body: kopf.Body, **_: Any) -> dict[SiteKey, compact.JsonText]:
    return {(namespace, name): compact.site_from(body)}


@kopf.index(**_selector(kinds.NODE))
async def node_index(body: kopf.Body, **_: Any) -> dict[None, records.Node]:
    return {None: parse.node_from(body)}


async def child_index(namespace: str, labels: kopf.Labels, body: kopf.Body, **_: Any) -> dict[SiteKey, records.Child]:
    return {(namespace, labels.get(names.LABEL_SITE, "")): compact.child_from(body)}


for _kind in kinds.OWNED:  # one index over every kind a site owns
    kopf.index(**_selector(_kind), labels=OWNED_LABELS)(child_index)


# --- events: which sites to pass --------------------------------------------------------------


def _changed(state: State, mark: str, relevant: int | None) -> bool:
    """Whether what a pass reads of this object changed (None: the object is gone)."""
    if relevant is None:
        state.seen.pop(mark, None)
        return True
    if state.seen.get(mark) == relevant:
        return False
    state.seen[mark] = relevant
    return True


@kopf.on.event(**SITE)
async def site_changed(type: str | None, uid: str, namespace: str, name: str, body: kopf.Body, memo: kopf.Memo,
                       **_: Any) -> None:  # fmt: skip
    """A site listed at start-up, created, changed or deleted. Its own status patches change nothing
    a decision reads, so they start no pass."""
    state: State = memo.state
    state.engine.mark_indexed()
    if type == "DELETED":
        state.seen.pop(uid, None)
        state.engine.forget((namespace, name))
        return
    meta = body.metadata
    notes = {k: v for k, v in meta.annotations.items() if not k.startswith("kopf.zalando.org/")}
    relevant = hash(
        json.dumps([dict(body.spec), dict(meta.labels), notes, meta.get("deletionTimestamp")], sort_keys=True)
    )
    if _changed(state, uid, relevant):
        state.engine.zones.watch_key(dict(body.spec).get("topologyKey") or DEFAULT_TOPOLOGY_KEY)
        state.engine.enqueue((namespace, name), "site")


async def child_changed(type: str | None, uid: str, namespace: str, name: str, labels: kopf.Labels, body: kopf.Body,
                        resource: kopf.Resource, memo: kopf.Memo, **_: Any) -> None:  # fmt: skip
    state: State = memo.state
    state.engine.mark_indexed()
    site = labels.get(names.LABEL_SITE)
    if not site:
        return
    key = (namespace, site)
    gone = type == "DELETED"
    version = str(body.metadata.get("resourceVersion") or "")
    state.engine.reconciler.overlay.saw(key, str(body.get("kind", "")), name, version, gone=gone)
    if _changed(state, uid, None if gone else compact.fingerprint(compact.child_from(body))):
        state.engine.enqueue(key, resource.plural)  # at once: one deleted is recreated without delay


for _kind in kinds.OWNED:  # a change to anything of a site's own triggers its pass
    kopf.on.event(**_selector(_kind), labels=OWNED_LABELS)(child_changed)


@kopf.on.event(**_selector(kinds.NODE))
async def node_changed(type: str | None, name: str, body: kopf.Body, memo: kopf.Memo, **_: Any) -> None:
    """To the cluster's one zone model: a zone lost or back puts every site's report first; any
    other change a site reads (a ready count, a cordon) passes every site once, a moment later."""
    state: State = memo.state
    state.engine.mark_indexed()
    state.engine.node_changed(name, None if type == "DELETED" else parse.node_from(body))


# --- dependencies: the Services of spec.dependsOn, read only -------------------------------------
# One index over what is not a site's own (a site's Service and endpoints are in the indices above;
# EndpointSlices in slicewatch.py's), reduced to the few fields the analysis reads; a change passes
# exactly the sites that name it.


@kopf.index(**_selector(kinds.SERVICE), labels=NOT_OWNED_LABELS)
@kopf.index(**_selector(kinds.DEPLOYMENT), labels=NOT_OWNED_LABELS)
@kopf.index(**_selector(kinds.STATEFUL_SET))
async def dependency_index(body: kopf.Body, **_: Any) -> dict[dependency_records.IndexKey, dependency_records.Record]:
    return dependency_records.index_entry(body)


@kopf.index(**SITE)
async def dependents_index(namespace: str, name: str, spec: kopf.Spec, **_: Any) -> dict[tuple[str, str], SiteKey]:
    return dependency_records.dependents(namespace, name, spec)


@kopf.on.event(**_selector(kinds.SERVICE))
@kopf.on.event(**_selector(kinds.DEPLOYMENT), labels=NOT_OWNED_LABELS)
@kopf.on.event(**_selector(kinds.STATEFUL_SET))
async def dependency_changed(type: str | None, uid: str, body: kopf.Body, memo: kopf.Memo,
                             dependents_index: DependentsIndex, **_: Any) -> None:  # fmt: skip
    """A Service appearing or going, or a workload's replicas in its namespace changing (its endpoints: slicewatch.py):
    a pass of exactly the sites that depend on it (nothing for a change the analysis does not read)."""
    state: State = memo.state
    state.engine.mark_indexed()
    key = dependency_records.trigger_key(body)
    sites = list(dependents_index.get(key, ())) if key else []
    mark = f"dependency:{uid}"
    if not sites:
        state.seen.pop(mark, None)
        return
    relevant = None if type == "DELETED" else hash(tuple(dependency_records.index_entry(body).items()))
    if _changed(state, mark, relevant):
        for site in sites:
            state.engine.enqueue(site, "dependency")


@kopf.on.probe(id="longest_pass_seconds")
async def longest_pass(memo: kopf.Memo, **_: Any) -> float:
    """Fails the liveness endpoint when a pass is wedged. (kopf's endpoint itself stops answering when
    the event loop is blocked; a standby runs no pass and stays live.)"""
    state: State = memo.state
    longest = state.engine.longest_pass()
    if longest > STALL_SECONDS:
        raise kopf.PermanentError(f"a reconcile has been running for {longest:.0f} s")
    return round(longest, 3)


def configure(
    identity: str,
    leader_election: bool,
    lease_namespace: str | None,
    lease_name: str,
    silent_zones: bool = True,
    namespaces: tuple[str, ...] = (),
    fold_counts: float = 0.0,
) -> None:
    """Called by `spofless run` before kopf starts."""
    CONFIG.namespaces = namespaces
    CONFIG.fold_counts = fold_counts
    CONFIG.identity = identity
    CONFIG.silent_zones = silent_zones
    CONFIG.leader_election = leader_election
    CONFIG.lease_namespace = lease_namespace or os.environ.get("POD_NAMESPACE") or "spofless-system"
    CONFIG.lease_name = lease_name


__all__ = ["CONFIG", "Lane", "configure"]
