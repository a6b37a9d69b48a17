"""The blast radius: one zone lost under N sites at once, against a floor measured in the same run.

Called from bench/run.py (`--blast-sites N`). N three-replica sites over 3 zones, failback window
BLAST_WINDOW s. The bench client watches nodes, sites and Deployments (no polling of N objects)
and takes the time each site

- reports the loss (its status says zone-b is not healthy), from the moment the last zone-b node
  was seen NotReady;
- has its capacity back (its healthy zones' Deployments hold `replicas` ready pods), same origin;
- is back on the even spread after the zone returns (every Deployment at its base, all ready).

Then the operator is stopped and a bare client makes the same scale changes to the same
Deployments (the floor): as soon as the zone's nodes are NotReady it sets the replicas the
operator had chosen, and after the zone returns (once its pods are ready) sets them back.
Meanwhile a probe times a GET every 0.2 s (the API server's responsiveness), the audit log
gives the operator's writes and their peak per second, and the watches' view is sampled every
0.5 s for the plot (bench/plot.py): ready pods in the zones left, sites reporting the loss.
"""

from __future__ import annotations

import asyncio
import json
import statistics
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from bench import auditlog, pipeline, profile
from bench.timeline import Timeline
from spofless.core.model import names
from spofless.core.model.spec import GROUP, PLURAL, VERSION
from spofless.kube import Kube

CHAOS = "node-not-ready.stage.kwok.x-k8s.io"
ZONE_KEY = "topology.kubernetes.io/zone"
LOST = "zone-b"
BLAST_WINDOW = 10  # failbackAfterSeconds of the blast sites
REPLICAS = 3


class Bench(Protocol):
    """What bench/run.py provides (kept as a protocol so the two modules stay apart)."""

    kube: Kube

    async def namespace(self, name: str) -> str: ...
    async def create_site(self, ns: str, name: str, replicas: int = 3, **spec: Any) -> None: ...


class Operator(Protocol):
    def start(self) -> None: ...
    def stop(self) -> None: ...
    def kill(self) -> None: ...
    @property
    def identity(self) -> str: ...
    def peak_rss_mb(self) -> float: ...
    def cpu_seconds(self) -> float: ...
    def metric(self, name: str) -> float: ...
    def by_label(self, name: str) -> dict[str, float]: ...


class Audit(Protocol):
    def mark(self) -> int: ...
    def since(self, offset: int) -> list[dict[str, Any]]: ...


def log(message: str) -> None:
    import sys

    print(f"[blast {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def sizing(sites: int, other_pods: int = 0, pods_per_node: int = 110, zones: int = 3) -> dict[str, Any]:
    """Nodes per zone so that the zones left after losing one hold every pod, with 15 % to spare
    (the fleet's moved replicas split by a hash, not exactly in half)."""
    pods = sites * REPLICAS + other_pods
    per_zone_after = pods / (zones - 1) * 1.15
    nodes = max(3, -(-int(per_zone_after) // pods_per_node))
    return {"zones": zones, "nodes_per_zone": nodes, "pods_per_node": pods_per_node, "pods": pods,
            "slots_after_losing_a_zone": (zones - 1) * nodes * pods_per_node}  # fmt: skip


# --- watching without polling ----------------------------------------------------------------


async def watch(kube: Kube, path: str, seen: Callable[[str, dict[str, Any]], None], stop: asyncio.Event) -> None:
    """Lists `path`, then streams its changes into `seen(type, object)` until `stop` is set. A list that
    fails is tried again: a watch task that died would leave the bench waiting for its 30 min timeout
    (a run did, on a 429 from a cluster a second old)."""
    while not stop.is_set():
        try:
            listed = await kube.client.call_api(
                path, "GET", query_params=[("limit", "0")], response_types_map={200: "object"},
                auth_settings=["BearerToken"], _return_http_data_only=True,
            )  # fmt: skip
        except Exception as err:  # a 429 from a fresh cluster's "storage is (re)initializing", say
            log(f"listing {path} failed ({str(err).splitlines()[0]}); trying again in 1 s")
            await asyncio.sleep(1)
            continue
        for item in listed["items"]:
            seen("ADDED", item)
        version = listed["metadata"]["resourceVersion"]
        try:
            response = await kube.client.call_api(
                path, "GET", auth_settings=["BearerToken"], _preload_content=False, _request_timeout=3600,
                query_params=[("watch", "1"), ("resourceVersion", version), ("allowWatchBookmarks", "true")],
            )  # fmt: skip
            reader = response.content
            while not stop.is_set():
                line = await reader.readline()
                if not line:
                    # The server ended it: on this saturated machine, mostly a watcher too slow for its
                    # buffer. What the list then shows is timed at the list, later than it happened.
                    log(f"watch of {path} ended by the server; listing again")
                    break
                event = json.loads(line)
                if event["type"] in ("ADDED", "MODIFIED", "DELETED"):
                    seen(event["type"], event["object"])
            response.release()
        except (TimeoutError, OSError) as err:
            log(f"watch of {path} broke ({err}); listing again")


@dataclass
class View:
    """What the watches have shown, with the time each fact was first seen."""

    ns: str
    nodes_ready: dict[str, bool] = field(default_factory=dict)  # zone-b nodes only
    node_changed: float = 0.0  # when a zone-b node last changed readiness
    zone_b_lost_at: dict[str, float] = field(default_factory=dict)  # site -> first seen reported lost
    deployments: dict[str, dict[str, Any]] = field(default_factory=dict)  # name -> {site, zone, replicas, ready}
    phases: dict[str, str] = field(default_factory=dict)

    def node(self, _: str, body: dict[str, Any]) -> None:
        if body["metadata"].get("labels", {}).get(ZONE_KEY) != LOST:
            return
        ready = any(
            c["type"] == "Ready" and c["status"] == "True" for c in body.get("status", {}).get("conditions", [])
        )
        if self.nodes_ready.get(body["metadata"]["name"]) != ready:
            self.nodes_ready[body["metadata"]["name"]] = ready
            self.node_changed = time.monotonic()

    def site(self, _: str, body: dict[str, Any]) -> None:
        name, status = body["metadata"]["name"], body.get("status") or {}
        if status.get("observedGeneration") == body["metadata"].get("generation"):
            self.phases[name] = str(status.get("phase"))
        lost = any(z["name"] == LOST and z["healthy"] is False for z in status.get("zones", []))
        if lost:
            self.zone_b_lost_at.setdefault(name, time.monotonic())
        else:
            self.zone_b_lost_at.pop(name, None)

    def deployment(self, kind: str, body: dict[str, Any]) -> None:
        name, labels = body["metadata"]["name"], body["metadata"].get("labels") or {}
        if kind == "DELETED":
            self.deployments.pop(name, None)
            return
        self.deployments[name] = {
            "site": labels.get(names.LABEL_SITE),
            "zone": labels.get(names.LABEL_ZONE),
            "replicas": body["spec"].get("replicas"),
            "ready": (body.get("status") or {}).get("readyReplicas") or 0,
        }

    def zone_b_all(self, ready: bool) -> bool:
        return bool(self.nodes_ready) and all(r is ready for r in self.nodes_ready.values())

    def by_site(self) -> dict[str, dict[str, dict[str, Any]]]:
        out: dict[str, dict[str, dict[str, Any]]] = {}
        for name, d in self.deployments.items():
            out.setdefault(d["site"], {})[d["zone"]] = {"name": name, **d}
        return out


async def sample(view: View, timeline: Timeline, stop: asyncio.Event, every: float = 0.5) -> None:
    """Ready pods in the zones left and sites reporting the loss, from the watches' view (no request)."""
    while not stop.is_set():
        left = sum(d["ready"] for d in view.deployments.values() if d["zone"] != LOST)
        timeline.add(ready_left=left, reporting=len(view.zone_b_lost_at))
        await asyncio.sleep(every)


def capacity_back(zones: dict[str, dict[str, Any]]) -> bool:
    return bool(sum(d["ready"] for z, d in zones.items() if z != LOST) >= REPLICAS)


def even(zones: dict[str, dict[str, Any]]) -> bool:
    return all(d["replicas"] == 1 and d["ready"] >= 1 for d in zones.values())


class Times:
    """First time (monotonic) each site met a condition, polled over the in-memory view only."""

    def __init__(self, view: View) -> None:
        self.view = view
        self.at: dict[str, float] = {}

    async def until_all(
        self, what: str, sites: list[str], met: Callable[[str, Snapshot], bool], timeout: float, partial: bool = False
    ) -> dict[str, float]:
        """Until every site met `met`; with `partial`, what was met by the timeout (the rest: missing)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            now, snapshot = time.monotonic(), Snapshot(self.view.by_site(), self.view)
            for site in sites:
                if site not in self.at and met(site, snapshot):
                    self.at[site] = now
            if len(self.at) == len(sites):
                return self.at
            await asyncio.sleep(0.05)
        missing = sorted(set(sites) - set(self.at))
        if partial:
            log(f"timed out after {timeout:.0f} s waiting for {what}: {len(missing)} sites never did")
            return self.at
        raise TimeoutError(
            f"timed out after {timeout:.0f} s waiting for {what}: {len(missing)} sites left, e.g. {missing[:5]}"
        )


@dataclass(frozen=True)
class Snapshot:
    """The view at one look: each site's Deployments by zone, built once per look."""

    sites: dict[str, dict[str, dict[str, Any]]]
    view: View

    def of(self, site: str) -> dict[str, dict[str, Any]]:
        return self.sites.get(site, {})


def summary(times: dict[str, float], origin: float, sites: int) -> dict[str, float]:
    values = sorted(t - origin for t in times.values()) or [float("nan")]
    return {"p50_s": statistics.median(values), "p95_s": values[int(0.95 * (len(values) - 1))], "max_s": values[-1],
            "sites_missing": sites - len(times)}  # fmt: skip


class Probe:
    """Times one small GET every 0.2 s: how the API server answers everybody else meanwhile."""

    def __init__(self, kube: Kube, ns: str) -> None:
        self.kube, self.ns = kube, ns
        self.samples: list[tuple[float, float]] = []

    async def run(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            start = time.monotonic()
            await self.kube.client.call_api(
                f"/api/v1/namespaces/{self.ns}", "GET", response_types_map={200: "object"},
                auth_settings=["BearerToken"], _return_http_data_only=True,
            )  # fmt: skip
            self.samples.append((start, time.monotonic() - start))
            await asyncio.sleep(0.2)

    def between(self, start: float, end: float) -> dict[str, float]:
        values = sorted(d for t, d in self.samples if start <= t <= end) or [float("nan")]
        return {"probe_p50_ms": 1000 * statistics.median(values), "probe_max_ms": 1000 * values[-1]}


def writes(events: list[dict[str, Any]]) -> dict[str, Any]:
    """The operator's writes in an audit-log slice, by kind, and the busiest second."""
    mine = auditlog.writes(events)
    per_second = Counter(e["requestReceivedTimestamp"][:19] for e in mine)
    return {
        "writes": len(mine),
        "writes_peak_per_s": max(per_second.values(), default=0),
        "writes_by": auditlog.by_what(mine),
    }


def written(
    events: list[dict[str, Any]], origin_wall: float, resource: str, subresource: str, site: Callable[[str], str | None]
) -> dict[str, float]:
    """Seconds from `origin_wall` to when the API server completed each site's first write of this kind
    after it (the audit log's stageTimestamp): the operator's delay, apart from the cluster's and from
    the bench's own watch, itself a client on a saturated machine that sees a write seconds later."""
    out: dict[str, float] = {}
    for event in auditlog.writes(events):
        ref = event.get("objectRef") or {}
        if ref.get("resource") != resource or ref.get("subresource") != subresource:
            continue
        at = datetime.fromisoformat(event["stageTimestamp"].replace("Z", "+00:00")).timestamp() - origin_wall
        owner = site(ref.get("name") or "")
        if owner and at >= 0 and event.get("responseStatus", {}).get("code", 200) < 300:
            out[owner] = min(out.get(owner, at), at)
    return out


def label_zone(lost: bool) -> None:
    import subprocess

    value = f"{CHAOS}=true" if lost else f"{CHAOS}-"
    subprocess.run(["kubectl", "label", "nodes", "-l", f"{ZONE_KEY}={LOST}", value, "--overwrite"],
                   check=True, capture_output=True)  # fmt: skip


async def scale(kube: Kube, ns: str, changes: list[tuple[str, int]], limit: int = 100) -> float:
    """The floor's writes: merge-patch spec.replicas of each Deployment, `limit` in flight at once;
    returns how long sending them took: the API server's write ceiling on this machine."""
    started = time.monotonic()
    gate = asyncio.Semaphore(limit)

    async def one(name: str, replicas: int) -> None:
        async with gate:
            await kube.client.call_api(
                f"/apis/apps/v1/namespaces/{ns}/deployments/{name}", "PATCH", body={"spec": {"replicas": replicas}},
                header_params={"Content-Type": "application/merge-patch+json", "Accept": "application/json"},
                response_types_map={200: "object"}, auth_settings=["BearerToken"], _return_http_data_only=True,
            )  # fmt: skip

    await asyncio.gather(*(one(n, r) for n, r in changes))
    return time.monotonic() - started


async def run(bench: Bench, operator: Operator, audit: Audit, sites: int) -> dict[str, Any]:
    kube = bench.kube
    ns = await bench.namespace(f"bench-blast-{int(time.time())}")
    view, stop, timeline = View(ns), asyncio.Event(), Timeline()
    probe = Probe(kube, ns)
    tasks = [
        asyncio.create_task(sample(view, timeline, stop)),
        asyncio.create_task(watch(kube, "/api/v1/nodes", view.node, stop)),
        asyncio.create_task(watch(kube, f"/apis/{GROUP}/{VERSION}/namespaces/{ns}/{PLURAL}", view.site, stop)),
        asyncio.create_task(watch(kube, f"/apis/apps/v1/namespaces/{ns}/deployments", view.deployment, stop)),
        asyncio.create_task(probe.run(stop)),
    ]
    names = [f"b{i:04d}" for i in range(sites)]
    try:
        gate = asyncio.Semaphore(50)

        async def create(name: str) -> None:
            async with gate:
                await bench.create_site(
                    ns, name, replicas=REPLICAS, failover={"enabled": True, "failbackAfterSeconds": BLAST_WINDOW}
                )

        await asyncio.gather(*(create(n) for n in names))
        log(f"{sites} sites created; waiting for all Redundant")
        await Times(view).until_all("every site Redundant", names, lambda s, _: view.phases.get(s) == "Redundant", 1800)
        await _settled(probe, ns, sites)
        await asyncio.sleep(5)  # let the last status writes and events settle before measuring
        results: dict[str, Any] = {"sites": sites, "failback_window_s": BLAST_WINDOW, "replicas": REPLICAS}
        results["operator"] = await _operator_phase(view, names, audit, probe, operator, timeline)
        results["operator"]["moved_to"] = dict(
            Counter(z for s in results["operator"].pop("targets").values() for z in s)
        )
        operator.stop()
        await _settled(probe, ns, sites)
        log("operator stopped; the floor: a bare client making the same scale changes")
        results["floor"] = await _floor_phase(kube, view, names, probe, results["operator"].pop("changes"), timeline)
        op, floor = results["operator"], results["floor"]
        results["ratio_capacity_p50"] = op["capacity"]["p50_s"] / floor["capacity"]["p50_s"]
        results["ratio_capacity_max"] = op["capacity"]["max_s"] / floor["capacity"]["max_s"]
        # The operator waits out the failback window first by design; the floor does not.
        results["ratio_failback_max_minus_window"] = (op["failback"]["max_s"] - BLAST_WINDOW) / floor["failback"][
            "max_s"
        ]
        return results
    finally:
        stop.set()
        for task in tasks:
            task.cancel()
        operator.start()  # leave it as found
        import subprocess

        subprocess.run(["kubectl", "delete", "namespace", ns, "--wait=false"], capture_output=True)


async def _settled(probe: Probe, ns: str, sites: int, timeout: float = 900) -> None:
    """Waits until the namespace holds exactly the sites' pods, none of them going: a phase that starts
    while the controllers still work off the last one's scale-downs would find pods it did not make
    (a floor once had half its sites' capacity back in 4.5 s that way)."""
    deadline = time.monotonic() + timeout
    while True:
        pods = await _pods(probe, ns)
        going = sum(1 for p in pods if p["metadata"].get("deletionTimestamp"))
        if len(pods) == sites * REPLICAS and not going:
            return
        if time.monotonic() > deadline:
            raise TimeoutError(f"{len(pods)} pods ({going} going) after {timeout:.0f} s, not {sites * REPLICAS}")
        await asyncio.sleep(1)


async def _pods(probe: Probe, ns: str) -> list[dict[str, Any]]:
    """The namespace's pods, in one list."""
    listed = await probe.kube.client.call_api(
        f"/api/v1/namespaces/{ns}/pods", "GET", response_types_map={200: "object"},
        auth_settings=["BearerToken"], _return_http_data_only=True,
    )  # fmt: skip
    return list(listed["items"])


def _wall(monotonic: float) -> float:
    """A monotonic time as wall-clock time (the API server's timestamps are wall clock)."""
    return time.time() - (time.monotonic() - monotonic)


async def _stages(probe: Probe, ns: str, origin: float) -> dict[str, Any]:
    """The new pods' way to Ready since `origin` (monotonic), from one list of the namespace's pods."""
    return pipeline.stages(await _pods(probe, ns), _wall(origin), LOST, names.LABEL_ZONE)


async def _ready_again(probe: Probe, ns: str, back: float) -> dict[str, Any]:
    """The returning zone's pods turning Ready since `back` (monotonic)."""
    return pipeline.ready_in(await _pods(probe, ns), _wall(back), LOST, names.LABEL_ZONE)


def delta(before: dict[str, float], after: dict[str, float]) -> dict[str, float]:
    """A counter's values by label between two scrapes, those that moved only."""
    return {k: v - before.get(k, 0.0) for k, v in sorted(after.items()) if v - before.get(k, 0.0)}


async def _zone_b(view: View, lost: bool, timeout: float = 120) -> float:
    """Waits until every zone-b node is seen NotReady (lost) or one is Ready again; returns when."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if (lost and view.zone_b_all(False)) or (not lost and any(view.nodes_ready.values())):
            return view.node_changed
        await asyncio.sleep(0.02)
    raise TimeoutError(f"zone-b nodes never turned {'NotReady' if lost else 'Ready'}")


async def _operator_phase(
    view: View, names: list[str], audit: Audit, probe: Probe, operator: Operator, timeline: Timeline
) -> dict[str, Any]:
    mark, cpu0, passes0 = audit.mark(), operator.cpu_seconds(), operator.metric("spofless_reconciles_total")
    causes0, sorts0 = (
        operator.by_label("spofless_reconciles_total"),
        operator.by_label("spofless_reconcile_errors_total"),
    )
    started, cpu_before = time.monotonic(), pipeline.cpu_snapshot()
    queue, waited0 = profile.QueueWatch(operator.by_label), operator.by_label(profile.WAITED)
    queue.start()
    label_zone(True)
    origin = await _zone_b(view, lost=True)
    log("zone-b NotReady; waiting for every site to report it")
    detect = await Times(view).until_all(
        "every site reporting the loss", names, lambda s, _: s in view.zone_b_lost_at, 600, partial=True
    )
    seen = summary(detect, origin, len(names))
    log(f"operator: loss reported p50 {seen['p50_s']:.2f} s, max {seen['max_s']:.2f} s")
    capacity = await Times(view).until_all(
        "every site's capacity back", names, lambda s, snap: capacity_back(snap.of(s)), 300, partial=True
    )
    done = time.monotonic()
    cpu = pipeline.cpu_between(cpu_before, pipeline.cpu_snapshot(), operator.cpu_seconds() - cpu0)
    pods = await _stages(probe, view.ns, origin)
    outage = audit.since(mark)
    origin_wall = _wall(origin)
    # Only this bench's sites: another bench's, in another namespace, may be written meanwhile.
    ours = set(names)
    site_of = {name: d["site"] for name, d in view.deployments.items() if d["site"] in ours}
    sites = view.by_site()
    changes = [(d["name"], d["replicas"]) for s in sites.values() for d in s.values() if d["replicas"] != 1]
    targets = {s: [z for z, d in zones.items() if z != LOST and d["replicas"] > 1] for s, zones in sites.items()}
    out: dict[str, Any] = {
        "detect": summary(detect, origin, len(names)), "capacity": summary(capacity, origin, len(names)),
        "reports_written": summary(written(outage, origin_wall, "resilientsites", "status", {n: n for n in ours}.get), 0.0,
                                   len(names)),
        "moves_written": summary(written(outage, origin_wall, "deployments", "scale", site_of.get), 0.0, len(names)),
        "outage": {**probe.between(origin, done), **writes(outage)},
        "changes": changes, "targets": targets, "series": timeline.since(origin, started, done),
        "outage_cpu": cpu, "pods": pods,
    }  # fmt: skip
    log(f"operator: capacity back p50 {out['capacity']['p50_s']:.2f} s, max {out['capacity']['max_s']:.2f} s")
    mark = audit.mark()
    label_zone(False)
    back = await _zone_b(view, lost=False)
    cpu_back, operator_back = pipeline.cpu_snapshot(), operator.cpu_seconds()
    failback = await Times(view).until_all(
        "every site even again", names, lambda s, snap: even(snap.of(s)), 600, partial=True
    )
    out["failback_cpu"] = pipeline.cpu_between(
        cpu_back, pipeline.cpu_snapshot(), operator.cpu_seconds() - operator_back
    )
    out["failback"] = summary(failback, back, len(names))
    returning = audit.since(mark)
    back_wall = _wall(back)
    out["lost_zone_ready"] = await _ready_again(probe, view.ns, back)
    out["failbacks_written"] = summary(written(returning, back_wall, "deployments", "scale", site_of.get), 0.0,
                                       len(names))  # fmt: skip
    out["failback_phase"] = {**probe.between(back, time.monotonic()), **writes(returning)}
    out["operator_cpu_s"] = operator.cpu_seconds() - cpu0
    out["operator_passes"] = operator.metric("spofless_reconciles_total") - passes0
    out["operator_peak_rss_mb"] = operator.peak_rss_mb()
    out["passes_by_cause"] = delta(causes0, operator.by_label("spofless_reconciles_total"))
    out["errors_by_sort"] = delta(sorts0, operator.by_label("spofless_reconcile_errors_total"))
    out["queue_wait"] = profile.waits(waited0, operator.by_label(profile.WAITED))
    out["queue_depth"] = await queue.stop(origin)
    await Times(view).until_all(
        "every site Redundant", names, lambda s, _: view.phases.get(s) == "Redundant", 600, partial=True
    )
    return out


async def _floor_phase(
    kube: Kube, view: View, names: list[str], probe: Probe, changes: list[tuple[str, int]], timeline: Timeline
) -> dict[str, Any]:
    started, cpu_before = time.monotonic(), pipeline.cpu_snapshot()
    label_zone(True)
    origin = await _zone_b(view, lost=True)
    sent = await scale(kube, view.ns, changes)
    log(f"floor: {len(changes)} scale writes sent in {sent:.2f} s")
    capacity = await Times(view).until_all(
        "capacity back (floor)", names, lambda s, snap: capacity_back(snap.of(s)), 300, partial=True
    )
    done = time.monotonic()
    cpu = pipeline.cpu_between(cpu_before, pipeline.cpu_snapshot(), 0.0)
    series = timeline.since(origin, started, done)
    out: dict[str, Any] = {
        "capacity": summary(capacity, origin, len(names)),
        "writes_sent_s": sent,
        "writes": len(changes),
        "outage": probe.between(origin, done),
        "series": {"t_s": series["t_s"], "ready_left": series.get("ready_left", [])},  # no operator: none reports
        "outage_cpu": cpu,
        "pods": await _stages(probe, view.ns, origin),
    }
    log(f"floor: capacity back p50 {out['capacity']['p50_s']:.2f} s, max {out['capacity']['max_s']:.2f} s")
    label_zone(False)
    back = await _zone_b(view, lost=False)
    cpu_back = pipeline.cpu_snapshot()

    def lost_zone_ready(site: str, snap: Snapshot) -> bool:
        zones = snap.of(site)
        return LOST in zones and zones[LOST]["ready"] >= 1

    await Times(view).until_all("zone-b's pods ready again (floor)", names, lost_zone_ready, 300, partial=True)
    out["lost_zone_ready"] = await _ready_again(probe, view.ns, back)
    await scale(kube, view.ns, [(name, 1) for name, _ in changes])
    failback = await Times(view).until_all(
        "every site even again (floor)", names, lambda s, snap: even(snap.of(s)), 300, partial=True
    )
    out["failback"] = summary(failback, back, len(names))
    out["failback_phase"] = probe.between(back, time.monotonic())
    out["failback_cpu"] = pipeline.cpu_between(cpu_back, pipeline.cpu_snapshot(), 0.0)
    return out


def table(results: dict[str, Any]) -> str:
    """The blast figures next to their floor, one line each."""
    op, floor = results["operator"], results["floor"]
    n, w = results["sites"], results["failback_window_s"]

    def row(what: str, mine: dict[str, float], base: dict[str, float] | None) -> str:
        def cell(x: dict[str, float]) -> str:
            never = f" ({x['sites_missing']} never)" if x.get("sites_missing") else ""
            return f"p50 {x['p50_s']:.2f} s, max {x['max_s']:.2f} s{never}"

        ours, theirs = cell(mine), (cell(base) if base else "-")
        return f"  {what:<44} {ours:<28} {theirs}"

    lines = [
        f"blast radius: {n} sites x {REPLICAS} replicas, {LOST} lost (failback window {w} s)",
        f"  {'':<44} {'operator':<28} floor (bare client, same scale changes)",
        row("NotReady -> every site reports the loss (watched)", op["detect"], None),
        row("NotReady -> every site's report written", op["reports_written"], None),
        row("NotReady -> every site's moves written", op["moves_written"], None),
        row("NotReady -> every site's capacity back", op["capacity"], floor["capacity"]),
        f"  zone back -> {LOST}'s pods Ready again: {_stage(op['lost_zone_ready'])} (floor: "
        f"{_stage(floor['lost_zone_ready'])})",
        row("zone back -> every site's failback written", op["failbacks_written"], None),
        row("zone back -> every site even again", op["failback"], floor["failback"]),
        f"  ratio capacity p50 {results['ratio_capacity_p50']:.2f}, max {results['ratio_capacity_max']:.2f}; "
        f"failback (minus window) max {results['ratio_failback_max_minus_window']:.2f}",
        f"  moved replicas per zone: {op['moved_to']}",
        f"  operator writes in the outage: {op['outage']['writes']} (peak {op['outage']['writes_peak_per_s']}/s), "
        f"in the failback: {op['failback_phase']['writes']} (peak {op['failback_phase']['writes_peak_per_s']}/s)",
        f"  API probe GET p50/max ms: outage {op['outage']['probe_p50_ms']:.0f}/{op['outage']['probe_max_ms']:.0f} "
        f"(floor {floor['outage']['probe_p50_ms']:.0f}/{floor['outage']['probe_max_ms']:.0f}), failback "
        f"{op['failback_phase']['probe_p50_ms']:.0f}/{op['failback_phase']['probe_max_ms']:.0f} "
        f"(floor {floor['failback_phase']['probe_p50_ms']:.0f}/{floor['failback_phase']['probe_max_ms']:.0f})",
        f"  operator over outage and failback: CPU {op['operator_cpu_s']:.1f} s, {op['operator_passes']:.0f} passes, "
        f"peak RSS {op['operator_peak_rss_mb']:.0f} MB",
        f"  passes by cause: {op['passes_by_cause']}; failed passes by sort: {op['errors_by_sort'] or 'none'}",
        f"  queue wait (histogram bounds): {op.get('queue_wait')}; depth per lane: {op.get('queue_depth')}",
        f"  the floor sent its {floor['writes']} scale writes in {floor['writes_sent_s']:.2f} s (the API server's "
        f"write ceiling here: {floor['writes'] / max(floor['writes_sent_s'], 1e-9):.0f}/s)",
        *_where_the_time_goes(op, floor),
    ]
    return "\n".join(lines)


def _stage(x: dict[str, Any]) -> str:
    return f"p50 {x['p50_s']} s, max {x['max_s']} s" if x["n"] else "none"


def _where_the_time_goes(op: dict[str, Any], floor: dict[str, Any]) -> list[str]:
    """The new pods' way to Ready and the CPU each part of the cluster used, operator's phase and floor's."""

    stage = _stage
    lines = []
    for who, phase in (("operator", op), ("floor", floor)):
        pods, cpu = phase.get("pods"), phase.get("outage_cpu")
        if pods:
            lines.append(
                f"  {who}: {pods['new_pods']} new pods outside {LOST}: created {stage(pods['created'])}; "
                f"scheduled {stage(pods['scheduled'])}; Ready {stage(pods['ready'])} "
                f"({pods['made_in_lost_zone']} made in {LOST} meanwhile)"
            )
        if cpu:
            lines.append(f"  {who}: CPU s until capacity back {cpu['cpu_s']}, machine busy {cpu['machine_busy']}")
        if (bound := phase["lost_zone_ready"].get("scheduled")) is not None:
            lines.append(f"  {who}: zone back -> {LOST}'s pods bound, of those Ready since: {bound['n']} bound since, "
                         f"{stage(bound)}")  # fmt: skip
        if back := phase.get("failback_cpu"):
            lines.append(f"  {who}: CPU s from zone back to even {back['cpu_s']}, machine busy {back['machine_busy']}")
    return lines


async def takeover(bench: Bench, pair: tuple[Operator, Operator], sites: int) -> dict[str, Any]:
    """The leader replica SIGKILLed as zone-b's nodes turn NotReady, mid-failover: the standby takes
    the Lease over once it lapses (15 s) and must finish every site's move. Reports how long after the
    kill every site had its capacity back, and any site left behind (the target: none)."""
    kube = bench.kube
    leader, standby = pair
    ns = await bench.namespace(f"bench-takeover-{int(time.time())}")
    view, stop = View(ns), asyncio.Event()
    tasks = [
        asyncio.create_task(watch(kube, "/api/v1/nodes", view.node, stop)),
        asyncio.create_task(watch(kube, f"/apis/{GROUP}/{VERSION}/namespaces/{ns}/{PLURAL}", view.site, stop)),
        asyncio.create_task(watch(kube, f"/apis/apps/v1/namespaces/{ns}/deployments", view.deployment, stop)),
    ]
    names_ = [f"t{i:04d}" for i in range(sites)]
    try:
        leader.start()
        await _holder_is(kube, leader.identity)
        standby.start()
        gate = asyncio.Semaphore(50)

        async def create(name: str) -> None:
            async with gate:
                await bench.create_site(ns, name, replicas=REPLICAS,
                                        failover={"enabled": True, "failbackAfterSeconds": BLAST_WINDOW})  # fmt: skip

        await asyncio.gather(*(create(n) for n in names_))
        await Times(view).until_all(
            "every site Redundant", names_, lambda s, _: view.phases.get(s) == "Redundant", 1800
        )
        label_zone(True)
        origin = await _zone_b(view, lost=True)
        await Times(view).until_all("a tenth of the sites reporting", names_[: max(1, sites // 10)],
                                    lambda s, _: s in view.zone_b_lost_at, 120, partial=True)  # fmt: skip
        leader.kill()
        killed = time.monotonic()
        log(f"takeover: leader killed {killed - origin:.1f} s after NotReady, mid-failover")
        capacity = await Times(view).until_all(
            "every site's capacity back after the kill",
            names_,
            lambda s, snap: capacity_back(snap.of(s)),
            600,
            partial=True,
        )
        out: dict[str, Any] = {"sites": sites, "killed_after_notready_s": killed - origin,
                               "capacity_after_kill": summary(capacity, killed, len(names_))}  # fmt: skip
        log(f"takeover: capacity back p50 {out['capacity_after_kill']['p50_s']:.2f} s, max "
            f"{out['capacity_after_kill']['max_s']:.2f} s after the kill, "
            f"{out['capacity_after_kill']['sites_missing']} site(s) left behind")  # fmt: skip
        label_zone(False)
        back = await _zone_b(view, lost=False)
        failback = await Times(view).until_all("every site even again", names_, lambda s, snap: even(snap.of(s)),
                                               600, partial=True)  # fmt: skip
        out["failback_by_standby"] = summary(failback, back, len(names_))
        return out
    finally:
        stop.set()
        for task in tasks:
            task.cancel()
        for op in pair:
            op.stop()
        import subprocess

        subprocess.run(["kubectl", "delete", "namespace", ns, "--wait=false"], capture_output=True)


async def _holder_is(kube: Kube, identity: str, timeout: float = 60) -> None:
    """Until the operator's Lease names `identity`."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            lease = await kube.call("GET", "/apis/coordination.k8s.io/v1/namespaces/spofless-system/leases/spofless")
            if (lease.get("spec") or {}).get("holderIdentity") == identity:
                return
        except Exception as err:  # not made yet
            log(f"waiting for the Lease: {err}")
        await asyncio.sleep(0.5)
    raise TimeoutError(f"{identity} never held the Lease")
