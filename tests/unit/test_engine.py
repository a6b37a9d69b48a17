"""Narrow wiring tests of the engine: lanes, one transition per zone, the leadership gate, errors by
sort, read-your-writes over a lagging index. The API is the in-process stand-in of the writer's
tests; the indices are plain dicts the test fills, as kopf would."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from kubernetes_asyncio.client.exceptions import ApiException

from spofless.core.observed.records import Child, Node, Pod
from spofless.core.site import decision
from spofless.operator import compact
from spofless.operator.engine import Engine, Indices
from spofless.operator.leader import Leadership
from spofless.operator.overlay import Overlay
from spofless.operator.queue import Backoff, Lane, WorkQueue
from spofless.operator.reconciler import Reconciler

from .builders import ZONE_KEY, pods, site, world
from .test_reconciler_wiring import Calls, body_of

ZONES = {"zone-a": 2, "zone-b": 2, "zone-c": 2}
EVEN = {"zone-a": 2, "zone-b": 2, "zone-c": 2}


class Cluster:
    """What kopf's indices hold, as dicts of lists; the engine reads them live."""

    def __init__(self, sites: int, steady: bool = True) -> None:
        base = world(ZONES, EVEN)
        self.nodes: dict[None, list[Node]] = {None: list(base.nodes)}
        self.sites: dict[tuple[str, str], list[Any]] = {}
        self.pods: dict[tuple[str, str], list[Pod]] = {}
        self.children: dict[tuple[str, str], list[Child]] = {}
        for i in range(sites):
            name = f"s{i}"
            spec = {"replicas": 6, "failover": {"failbackAfterSeconds": 0}}
            status = decision.decide(dataclasses.replace(site(spec), name=name), world(ZONES, EVEN, site=name),
                                     datetime_now()).status if steady else {}  # fmt: skip
            body = body_of(dataclasses.replace(site(spec, status), name=name))
            body["metadata"]["resourceVersion"] = "1"
            self.sites[("web", name)] = [compact.JsonText(body)]
            self.pods[("web", name)] = list(pods(EVEN, site=name))
            self.children[("web", name)] = list(_children(name, EVEN)) if steady else []

    def indices(self) -> Indices:
        return Indices(self.sites, self.nodes, self.pods, {}, self.children, {}, {})

    def lose(self, zone: str) -> Iterator[Node]:
        """Each node of the zone turning NotReady, one at a time (what the engine hears)."""
        for i, node in enumerate(self.nodes[None]):
            if node.labels[ZONE_KEY] == zone:
                self.nodes[None][i] = dataclasses.replace(node, ready=False)
                yield self.nodes[None][i]

    def restore(self, zone: str) -> Iterator[Node]:
        """Each node of the zone turning Ready again."""
        for i, node in enumerate(self.nodes[None]):
            if node.labels[ZONE_KEY] == zone:
                self.nodes[None][i] = dataclasses.replace(node, ready=True)
                yield self.nodes[None][i]


def datetime_now() -> Any:
    from datetime import UTC, datetime

    return datetime.now(UTC)


def _children(name: str, replicas: dict[str, int]) -> tuple[Child, ...]:
    """The children as the API server stores them after the site's first pass."""
    result = decision.decide(dataclasses.replace(site({"replicas": 6}), name=name), world(ZONES, EVEN, site=name),
                             datetime_now())  # fmt: skip
    out = []
    for manifest in result.apply:
        meta = {**manifest["metadata"], "resourceVersion": "5"}
        out.append(compact.child_from({**manifest, "metadata": meta}))
    return tuple(out)


def engine_for(calls: Calls, cluster: Cluster, leading: bool = True, workers: int = 4) -> Engine:
    leadership = Leadership("test", always=leading)
    reconciler = Reconciler(kube=calls, post=lambda _b, _e: None, leadership=leadership, overlay=Overlay())
    engine = Engine(reconciler=reconciler, leadership=leadership, workers=workers,
                    queue=WorkQueue(backoff=Backoff(base=0.05)))  # fmt: skip
    return engine


async def settle(engine: Engine, calls: Calls, timeout: float = 10) -> None:
    """Until the queue is empty and no pass runs."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while len(engine.queue) or engine.queue.processing():
        assert loop.time() < deadline, f"the engine did not settle: {len(engine.queue)} queued"
        await asyncio.sleep(0.01)


async def after_outage(engine: Engine, cluster: Cluster, calls: Calls) -> None:
    """Started on the listed nodes, then zone-b lost, and every pass that follows run."""
    engine.start(cluster.indices())
    for node in cluster.nodes[None]:
        engine.node_changed(node.name, node)  # the initial listing: no transition
    engine.mark_indexed()
    for node in cluster.lose("zone-b"):
        engine.node_changed(node.name, node)
    await settle(engine, calls)


async def until(condition: Callable[[], bool], timeout: float = 10) -> None:
    """Polls `condition` until it holds; fails after `timeout` rather than hanging the suite."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not condition():
        assert loop.time() < deadline, "the condition did not hold in time"
        await asyncio.sleep(0.01)


def count_passes(engine: Engine, passes: list[Any]) -> None:
    """Each pass the engine runs appends its site key to `passes`."""
    reconcile = engine.reconciler.reconcile

    async def counted(key: Any, *args: Any) -> Any:
        passes.append(key)
        return await reconcile(key, *args)

    engine.reconciler.reconcile = counted  # type: ignore[method-assign,assignment]


def run(scenario: Callable[[], Any]) -> Any:
    return asyncio.run(scenario())


def test_a_zone_lost_is_one_transition_and_every_report_goes_before_any_move() -> None:
    cluster = Cluster(sites=12)
    calls = Calls()

    async def scenario() -> list[tuple[str, Any]]:
        engine = engine_for(calls, cluster)
        engine.start(cluster.indices())
        for node in cluster.nodes[None]:
            engine.node_changed(node.name, node)  # the initial listing: no transition
        engine.mark_indexed()
        await settle(engine, calls)
        calls.log.clear()
        for node in cluster.lose("zone-b"):
            engine.node_changed(node.name, node)
        await settle(engine, calls)
        await engine.close()
        return calls.log

    log = run(scenario)
    writes = [verb for verb, _ in log]
    first_move = min(i for i, v in enumerate(writes) if v in ("scale", "apply"))
    reports = [i for i, v in enumerate(writes) if v == "status"][:12]
    assert len(reports) == 12 and max(reports) < first_move, writes
    scaled = sorted({name for verb, (name, _) in [(v, a) for v, a in log if v == "scale"]})
    assert scaled == sorted(f"s{i}-zone-{z}" for i in range(12) for z in ("a", "c")), "one move per healthy zone"
    assert not [a for v, a in log if v == "dry-run"], "replicas alone go through the scale subresource"


def test_a_zone_back_is_one_full_pass_per_site_with_no_report_before_it() -> None:
    cluster = Cluster(sites=6)
    calls = Calls()
    posted: list[str] = []

    async def scenario() -> tuple[list[tuple[str, Any]], list[Any]]:
        engine = engine_for(calls, cluster)
        engine.reconciler.post = lambda _body, event: posted.append(event.reason)
        await after_outage(engine, cluster, calls)
        calls.log.clear()
        posted.clear()
        reports = []
        report = engine.reconciler.report

        async def counted(key: Any, *args: Any) -> None:
            reports.append(key)
            await report(key, *args)

        engine.reconciler.report = counted  # type: ignore[method-assign,assignment]
        for node in cluster.restore("zone-b"):
            engine.node_changed(node.name, node)
        await settle(engine, calls)
        await engine.close()
        return calls.log, reports

    log, reports = run(scenario)
    assert reports == [], "a zone back has no report pass: nothing hurts"
    assert len([v for v, _ in log if v == "status"]) == 6, "one status write per site"
    assert posted.count("ZoneRecovered") == 6, posted


def test_a_failback_window_ending_is_queued_with_the_moves() -> None:
    cluster = Cluster(sites=1)
    for bodies in cluster.sites.values():  # a window of a minute: the failback waits on a timer
        body = bodies[0].parsed()
        body["spec"]["failover"]["failbackAfterSeconds"] = 60
        bodies[0] = compact.JsonText(body)
    calls = Calls()

    async def scenario() -> list[tuple[Any, Lane, str]]:
        engine = engine_for(calls, cluster)
        await after_outage(engine, cluster, calls)
        for node in cluster.restore("zone-b"):
            engine.node_changed(node.name, node)
        await settle(engine, calls)
        timers = engine.queue.timers()
        await engine.close()
        return timers

    assert run(scenario) == [(("web", "s0"), Lane.MOVES, "failback")]


def test_a_standby_writes_nothing_from_any_path() -> None:
    cluster = Cluster(sites=3)
    calls = Calls()

    async def scenario() -> None:
        engine = engine_for(calls, cluster, leading=False)
        engine.leadership = Leadership("standby")  # never renewed: not leading
        engine.reconciler.leadership = engine.leadership
        engine.start(cluster.indices())
        engine.mark_indexed()
        engine.enqueue(("web", "s0"), "site")
        engine.queue.add(("web", "s1"))  # even a key that got in: its pass writes nothing
        for node in cluster.lose("zone-b"):
            engine.node_changed(node.name, node)
        engine.fleet_later("headroom")
        await settle(engine, calls)
        await engine.close()

    run(scenario)
    assert calls.log == []


def test_losing_leadership_mid_pass_stops_its_writes_and_clears_the_queue() -> None:
    cluster = Cluster(sites=1)
    release = asyncio.Event()

    class Slow(Calls):
        async def scale(self, namespace: str, name: str, replicas: int) -> str:
            await release.wait()
            return await super().scale(namespace, name, replicas)

    calls = Slow()

    async def scenario() -> list[str]:
        leadership = Leadership("a")
        leadership.renewed(asyncio.get_running_loop().time() + 1e9)  # leading until told otherwise
        engine = engine_for(calls, cluster)
        engine.leadership = engine.reconciler.leadership = leadership
        engine.start(cluster.indices())
        engine.mark_indexed()
        await settle(engine, calls)
        for node in cluster.lose("zone-b"):
            engine.node_changed(node.name, node)
        while not any(v == "status" for v, _ in calls.log):  # the report is out; the move is blocked
            await asyncio.sleep(0.01)
        engine.queue.add_after(("web", "s0"), 0.01)  # a timed step queued before the demotion
        leadership.lost()
        await engine.step_down()
        release.set()  # the blocked call returns: nothing after it may be written
        await asyncio.sleep(0.1)
        await settle(engine, calls)
        await engine.close()
        return [v for v, _ in calls.log]

    verbs = run(scenario)
    assert verbs.count("scale") <= 1, "the call in flight may land; nothing after it"
    assert verbs[-1] in ("scale", "status") and "apply" not in verbs


def test_a_crash_is_reported_in_the_status_and_retried_while_other_sites_go_on(monkeypatch: pytest.MonkeyPatch) -> None:
    cluster = Cluster(sites=3, steady=False)
    calls = Calls()
    real = decision.decide
    crashes = {"left": 2}

    def flaky(s: decision.Site, *args: Any, **kwargs: Any) -> decision.Decision:
        if s.name == "s1" and crashes["left"] > 0:
            crashes["left"] -= 1
            raise ValueError("Invalid isoformat string: 'yesterday-ish'")
        return real(s, *args, **kwargs)

    monkeypatch.setattr(decision, "decide", flaky)

    async def scenario() -> None:
        engine = engine_for(calls, cluster)
        engine.start(cluster.indices())
        engine.mark_indexed()
        await settle(engine, calls)
        # The backoff's retries, until s1's children are applied too.
        await asyncio.wait_for(until(lambda: ("apply", "s1-zone-a") in calls.log), timeout=10)
        await engine.close()

    run(scenario)
    crashed = [s for s in calls.statuses if any(c.get("reason") == "InternalError" for c in s.get("conditions", []))]
    assert crashed and "yesterday-ish" in str(crashed[0])
    applied = {name for verb, name in calls.log if verb == "apply"}
    assert {"s0-zone-a", "s2-zone-a", "s1-zone-a"} <= applied, "the others went on, and s1 got there after its retries"


@pytest.mark.parametrize(
    ("status", "headers", "retried"),
    [(403, {}, False), (422, {}, False), (429, {"Retry-After": "5"}, True), (503, {}, True), (409, {}, True)],
)
def test_failed_writes_are_retried_as_their_sort_says(status: int, headers: dict[str, str], retried: bool) -> None:
    cluster = Cluster(sites=1, steady=False)

    class Failing(Calls):
        async def apply(self, manifest: dict[str, Any], dry_run: bool = False) -> dict[str, Any]:
            err = ApiException(status=status, reason="nope")
            err.headers = headers  # type: ignore[assignment]  # a plain dict stands for the response's headers
            raise err

    calls = Failing()

    async def scenario() -> tuple[int, bool]:
        engine = engine_for(calls, cluster)
        engine.start(cluster.indices())
        engine.mark_indexed()
        await settle(engine, calls)
        timed = ("web", "s0") in engine.queue._timers
        delay = engine.queue._timers[("web", "s0")][0] - engine.queue.clock() if timed else 0.0
        await engine.close()
        return (1 if timed else 0), delay >= (4 if headers else 0)

    timed, waited = run(scenario)
    assert bool(timed) == retried
    assert waited
    reconciled = [c for s in calls.statuses for c in s.get("conditions", []) if c["type"] == "Reconciled"]
    assert reconciled and reconciled[-1]["status"] == "False" and str(status) in reconciled[-1]["message"]


def test_children_just_created_are_not_created_again_while_the_index_lags() -> None:
    cluster = Cluster(sites=1, steady=False)
    calls = Calls()

    async def scenario() -> list[str]:
        engine = engine_for(calls, cluster)
        engine.start(cluster.indices())
        engine.mark_indexed()
        await settle(engine, calls)
        engine.enqueue(("web", "s0"), "pods")  # a pod event: the index still shows no children
        await settle(engine, calls)
        await engine.close()
        return [name for verb, name in calls.log if verb == "apply"]

    applied = run(scenario)
    # Three Deployments, the budget and the Service (both named after the site): each written once.
    assert sorted(applied) == ["s0", "s0", "s0-zone-a", "s0-zone-b", "s0-zone-c"], f"a child created twice: {applied}"


def test_a_child_deleted_right_after_its_creation_is_made_again() -> None:
    cluster = Cluster(sites=1, steady=False)
    calls = Calls()

    async def scenario() -> list[str]:
        engine = engine_for(calls, cluster)
        engine.start(cluster.indices())
        engine.mark_indexed()
        await settle(engine, calls)
        first = [name for verb, name in calls.log if verb == "apply"]
        calls.log.clear()
        # The watch shows the Service created, then deleted by someone: the overlay lets go of it.
        engine.reconciler.overlay.saw(("web", "s0"), "Service", "s0", "999", gone=True)
        engine.enqueue(("web", "s0"), "services")
        await settle(engine, calls)
        await engine.close()
        assert "s0" in first
        return [name for verb, name in calls.log if verb == "apply"]

    assert run(scenario) == ["s0"]


def test_one_move_one_event_while_the_index_lags() -> None:
    cluster = Cluster(sites=1)
    calls = Calls()
    posted: list[str] = []

    async def scenario() -> None:
        engine = engine_for(calls, cluster)
        engine.reconciler.post = lambda _b, e: posted.append(e.reason)
        engine.start(cluster.indices())
        for node in cluster.nodes[None]:
            engine.node_changed(node.name, node)
        engine.mark_indexed()
        await settle(engine, calls)
        for node in cluster.lose("zone-b"):
            engine.node_changed(node.name, node)
        await settle(engine, calls)
        for _ in range(3):  # pod events keep coming; the index still shows the old replicas and status
            engine.enqueue(("web", "s0"), "pods")
            await settle(engine, calls)
        await engine.close()

    run(scenario)
    assert posted.count("ZoneLost") == 1
    assert posted.count("Failover") == 1, posted
    assert len([v for v, _ in calls.log if v == "scale"]) == 2  # zone-a and zone-c, once each


def test_a_burst_of_pod_events_is_one_pass_once_it_settles(monkeypatch: pytest.MonkeyPatch) -> None:
    from spofless.operator import engine as engine_module

    monkeypatch.setattr(engine_module, "SETTLE_DELAY", 0.2)
    cluster = Cluster(sites=2)
    calls = Calls()
    passes: list[tuple[str, str]] = []

    async def scenario() -> None:
        engine = engine_for(calls, cluster)
        count_passes(engine, passes)
        engine.start(cluster.indices())
        engine.mark_indexed()
        await settle(engine, calls)
        passes.clear()
        for cause in ("pods", "pods", "endpointslices", "pods"):  # a new pod: created, scheduled, ready, its slice
            engine.enqueue_settled(("web", "s0"), cause)
        assert passes == [] and engine.queue.timed() == {("web", "s0")}, "no pass before the burst settles"
        await until(lambda: not engine.queue.timed())
        await settle(engine, calls)
        await engine.close()

    run(scenario)
    assert passes == [("web", "s0")]


def test_zone_health_is_exported_from_the_first_look_and_a_standby_exports_no_site_gauges() -> None:
    from spofless.operator import metrics

    cluster = Cluster(sites=1)
    calls = Calls()

    async def scenario() -> tuple[float, float, int]:
        engine = engine_for(calls, cluster)
        engine.start(cluster.indices())
        for node in cluster.lose("zone-b"):  # already lost when the operator starts
            engine.node_changed(node.name, node)
        for node in cluster.nodes[None]:
            engine.node_changed(node.name, node)
        engine.mark_indexed()
        await settle(engine, calls)
        healthy = metrics.ZONE_HEALTHY.labels("zone-a")._value.get(), metrics.ZONE_HEALTHY.labels("zone-b")._value.get()
        await engine.step_down()
        left = len(metrics.STATUSES.sites)
        await engine.close()
        return healthy[0], healthy[1], left

    assert run(scenario) == (1, 0, 0)


def test_no_pass_reads_the_indices_before_every_watch_has_listed_them_once() -> None:
    """The operator's own pod and slice watches may list before kopf's indices are filled, or after: a
    pass in between would read a part of the cluster (no Deployments yet, say). Nothing is queued until
    the last source has listed; then every site is passed once."""
    cluster = Cluster(sites=3)
    calls = Calls()
    passes: list[Any] = []

    async def scenario() -> None:
        engine = engine_for(calls, cluster)
        count_passes(engine, passes)
        engine.start(cluster.indices())
        engine.expect("/api/v1/pods", "/apis/discovery.k8s.io/v1/endpointslices")
        engine.mark_indexed("/api/v1/pods")
        engine.enqueue(("web", "s0"), "pods")
        engine.mark_indexed()  # kopf's first event
        engine.enqueue_settled(("web", "s1"), "pods")
        assert not engine.indexed and len(engine.queue) == 0 and not engine.queue.timed()
        engine.mark_indexed("/apis/discovery.k8s.io/v1/endpointslices")
        assert engine.indexed
        await settle(engine, calls)
        await engine.close()

    run(scenario)
    assert sorted(passes) == [("web", "s0"), ("web", "s1"), ("web", "s2")]
