"""spofless benchmarks: latency, scale, failure and steady-state API cost, each next to its floor.

Runs against the cluster in KUBECONFIG (hack/bench.sh brings up the local one), starts the operator
as a subprocess (as the chart's ServiceAccount, so the API server's audit log attributes its
requests), prints a table and writes the results as JSON. Figures are medians (and p95 where said)
over repeated runs; the machine is noisy, so read ratios rather than absolute times.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import socket
import statistics
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
from tests.e2e.cluster import service_account_kubeconfig  # run as `python -m bench.run` from the repo root
from tests.e2e.ports import free_port

from bench import auditlog, blast, creation, pipeline, plot, profile
from bench.timeline import Timeline
from spofless.core.model import names
from spofless.core.model.spec import DEFAULT_TOPOLOGY_KEY, GROUP, KIND, PLURAL, VERSION, ResilientSiteSpec
from spofless.core.site import owned
from spofless.kube import Kube

ROOT = Path(__file__).resolve().parents[1]

CHAOS = "node-not-ready.stage.kwok.x-k8s.io"
TEMPLATE = {"spec": {"containers": [{"name": "web", "image": "nginx:1.27", "ports": [{"containerPort": 8080}]}]}}
POLL = 0.1  # seconds between two looks: the resolution of every latency below


def log(message: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def kubectl(*args: str, stdin: str | None = None) -> str:
    return subprocess.run(["kubectl", *args], input=stdin, capture_output=True, text=True, check=True).stdout


async def until(what: str, probe: Callable[[], Awaitable[bool]], timeout: float = 300) -> float:
    """Polls `probe`; returns the monotonic time it first held."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if await probe():
                return time.monotonic()
        except (TimeoutError, aiohttp.ClientError) as err:  # a busy API server: look again
            log(f"waiting for {what}: {type(err).__name__}, looking again")
        await asyncio.sleep(POLL)
    raise TimeoutError(f"timed out after {timeout:.0f} s waiting for {what}")


@dataclass
class Operator:
    """The operator under test, with what /proc and its /metrics say about it."""

    kubeconfig: str | None
    elect: bool = False  # a replica electing its leader through the Lease (the takeover scenario), not standalone
    name: str = "operator"  # of its log file
    metrics_port: int = field(default_factory=lambda: free_port())  # two benches may run side by side
    proc: subprocess.Popen[bytes] | None = None
    # `--profile`: py-spy records each run of the operator into `<profile_prefix>-<name>-<n>.folded`.
    profile_prefix: Path | None = None
    profiles: list[Path] = field(default_factory=list)
    spy: subprocess.Popen[bytes] | None = None
    log_path: Path = field(
        default_factory=lambda: Path(os.environ.get("SPOFLESS_BENCH_LOGS", "/tmp")) / "spofless-bench-operator.log"
    )

    def __post_init__(self) -> None:
        if self.name != "operator":
            self.log_path = self.log_path.with_name(f"spofless-bench-{self.name}.log")

    def kill(self) -> None:
        """SIGKILL: no release of the Lease, as a crash or a node lost with it."""
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=30)
        self._profile_written()

    @property
    def identity(self) -> str:
        assert self.proc is not None
        return f"{socket.gethostname()}-{self.proc.pid}"

    def start(self) -> None:
        env = {**os.environ, **({"KUBECONFIG": self.kubeconfig} if self.kubeconfig else {})}
        level = os.environ.get("SPOFLESS_BENCH_LOG_LEVEL", "warning")  # info: every write, and why
        cmd = [sys.executable, "-m", "spofless", "run", *([] if self.elect else ["--standalone"]), "--log-level", level,
               "--liveness", "", "--metrics-port", str(self.metrics_port)]  # fmt: skip
        # Appended: a bench stops and starts the operator (the floor runs without it); keep every run's log.
        self.proc = subprocess.Popen(cmd, env=env, stdout=self.log_path.open("ab"), stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 60
        while not self._answers():  # its metrics are read next: wait until it serves them
            assert self.proc.poll() is None, f"the operator exited at start; see {self.log_path}"
            assert time.monotonic() < deadline, f"the operator's metrics did not answer in 60 s; see {self.log_path}"
            time.sleep(0.2)
        if self.profile_prefix is not None:
            prefix = self.profile_prefix
            self.profiles.append(prefix.with_name(f"{prefix.name}-{self.name}-{len(self.profiles) + 1}.folded"))
            self.spy = profile.record(self.proc.pid, self.profiles[-1])

    def _answers(self) -> bool:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.metrics_port}/metrics", timeout=2):
                return True
        except OSError:
            return False

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(timeout=30)
        self._profile_written()

    def _profile_written(self) -> None:
        """py-spy writes its file once the operator is gone."""
        if self.spy is not None:
            self.spy.wait(timeout=120)
            self.spy = None

    def peak_rss_mb(self) -> float:
        assert self.proc is not None
        for line in Path(f"/proc/{self.proc.pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
        return float("nan")

    def cpu_seconds(self) -> float:
        assert self.proc is not None
        fields = Path(f"/proc/{self.proc.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def _scrape(self, name: str) -> str:
        """One metric's lines from /metrics. Asked by name: a full scrape renders every site's series,
        about 0.2 s of the operator's CPU at 1000 sites (py-spy)."""
        url = f"http://127.0.0.1:{self.metrics_port}/metrics?{urllib.parse.urlencode({'name[]': name})}"
        with urllib.request.urlopen(url, timeout=5) as reply:
            return str(reply.read().decode())

    def by_label(self, name: str) -> dict[str, float]:
        """A counter's values by its one label (a cause, a sort), from /metrics."""
        text = self._scrape(name)
        out: dict[str, float] = {}
        for line in text.splitlines():
            if line.startswith(name + "{"):
                label = line[line.index('"') + 1 : line.index('"', line.index('"') + 1)]
                out[label] = out.get(label, 0.0) + float(line.split()[-1])
        return out

    def metric(self, name: str) -> float:
        text = self._scrape(name)
        return sum(
            float(line.split()[-1])
            for line in text.splitlines()
            if line.startswith(name + " ") or line.startswith(name + "{")
        )


class Audit:
    """Requests of one user, from the kube-apiserver's audit log."""

    def __init__(self, path: str | None, user: str) -> None:
        self.path = Path(path) if path else None
        self.user = user

    def mark(self) -> int:
        return self.path.stat().st_size if self.path and self.path.exists() else 0

    def since(self, offset: int) -> list[dict[str, Any]]:
        if not self.path or not self.path.exists():
            return []
        with self.path.open() as f:
            f.seek(offset)
            events = [json.loads(line) for line in f if line.strip()]
        return [e for e in events if e.get("user", {}).get("username") == self.user]

    def count(self, offset: int) -> dict[str, Any]:
        events = self.since(offset)
        writes = auditlog.writes(events)
        return {"requests": len(events), "writes": len(writes),
                "writes_to_sites_and_children": len([e for e in writes if e.get("objectRef", {}).get("resource") != "events"]),
                "writes_by": auditlog.by_what(writes)}  # fmt: skip


class Cluster:
    def __init__(self, kube: Kube) -> None:
        self.kube = kube

    async def apply(self, manifest: dict[str, Any], tries: int = 5) -> None:
        """Server-side apply, tried again when a busy API server times out: the floor and the sites
        must all be made, however loaded the machine."""
        for attempt in range(tries):
            try:
                await self.kube.apply(manifest)
                return
            except (TimeoutError, aiohttp.ClientError) as err:
                if attempt == tries - 1:
                    raise
                log(f"apply of {manifest['metadata']['name']} failed ({type(err).__name__}), trying again")

    async def get(self, url: str) -> Any:
        return await self.kube.client.call_api(
            url, "GET", response_types_map={200: "object"}, auth_settings=["BearerToken"], _return_http_data_only=True
        )

    async def sites(self, ns: str) -> list[dict[str, Any]]:
        return (await self.get(f"/apis/{GROUP}/{VERSION}/namespaces/{ns}/{PLURAL}"))["items"]  # type: ignore[no-any-return]

    async def deployments(self, ns: str) -> list[dict[str, Any]]:
        return (await self.get(f"/apis/apps/v1/namespaces/{ns}/deployments"))["items"]  # type: ignore[no-any-return]

    async def namespace(self, name: str) -> str:
        kubectl("create", "namespace", name)
        return name

    async def create_site(self, ns: str, name: str, replicas: int = 3, **spec: Any) -> None:
        body = {"apiVersion": f"{GROUP}/{VERSION}", "kind": KIND, "metadata": {"name": name, "namespace": ns},
                "spec": {"replicas": replicas, "template": TEMPLATE, **spec}}  # fmt: skip
        await self.apply(body)


def phase_of(site: dict[str, Any]) -> str:
    status = site.get("status") or {}
    current = status.get("observedGeneration") == site["metadata"].get("generation")
    return str(status.get("phase")) if current else "Unobserved"


async def latency(cluster: Cluster, sites: int) -> dict[str, Any]:
    """Create-to-Redundant, one site at a time, and the floor: a bare client applying the same
    Deployments, Service and budgets itself and waiting for the same pods to be ready."""
    ns = await cluster.namespace(f"bench-latency-{int(time.time())}")
    operator_s, floor_s = [], []
    for i in range(sites):
        start = time.monotonic()
        await cluster.create_site(ns, f"site-{i}")

        async def redundant(name: str = f"site-{i}") -> bool:
            return any(s["metadata"]["name"] == name and phase_of(s) == "Redundant" for s in await cluster.sites(ns))

        operator_s.append(await until(f"site-{i} Redundant", redundant) - start)
        floor_s.append(await floor_once(cluster, ns, f"floor-{i}"))
        log(f"latency {i + 1}/{sites}: operator {operator_s[-1]:.2f} s, floor {floor_s[-1]:.2f} s")
    kubectl("delete", "namespace", ns, "--wait=false")
    p50, floor50 = statistics.median(operator_s), statistics.median(floor_s)
    return {"sites": sites, "p50_s": p50, "p95_s": pct(operator_s, 0.95), "floor_p50_s": floor50,
            "floor_p95_s": pct(floor_s, 0.95), "ratio_p50": p50 / floor50}  # fmt: skip


FLOOR_MANAGER = "bench-floor"  # the floor's objects carry this managed-by, so the operator's watches skip them


def floor_manifests(cluster_zones: list[str], ns: str, name: str) -> list[dict[str, Any]]:
    """What spofless would make for a 3-replica site, minus the owner (no site exists) and with
    the floor's managed-by label, so the operator under test neither sees nor counts them."""
    spec = ResilientSiteSpec.model_validate({"replicas": 3, "template": TEMPLATE})
    owner = owned.Owner(name=name, namespace=ns, uid="")
    manifests = owned.children(owner, spec, owned.Wanted(dict.fromkeys(cluster_zones, 1)))
    for manifest in manifests:
        del manifest["metadata"]["ownerReferences"]
        for labels in (
            manifest["metadata"]["labels"],
            manifest["spec"].get("template", {}).get("metadata", {}).get("labels", {}),
            manifest["spec"]["selector"] if manifest["kind"] == "Service" else {},  # or it selects no pod
        ):
            if names.LABEL_MANAGED_BY in labels:
                labels[names.LABEL_MANAGED_BY] = FLOOR_MANAGER
    return manifests


async def zone_names(cluster: Cluster) -> list[str]:
    key = DEFAULT_TOPOLOGY_KEY
    return sorted({n["metadata"]["labels"].get(key) for n in (await cluster.get("/api/v1/nodes"))["items"]} - {None})


async def floor_once(cluster: Cluster, ns: str, name: str) -> float:
    manifests = floor_manifests(await zone_names(cluster), ns, name)
    start = time.monotonic()
    for manifest in manifests:
        await cluster.apply(manifest)

    async def ready() -> bool:
        mine = [d for d in await cluster.deployments(ns) if d["metadata"]["labels"].get(names.LABEL_SITE) == name]
        return len(mine) == len(manifests) // 2 and all(
            (d.get("status") or {}).get("readyReplicas") == d["spec"]["replicas"] for d in mine
        )

    return await until(f"{name} pods ready", ready) - start


async def quiet(cluster: Cluster, settle: float = 5.0) -> None:
    """Waits until no pod is left in the cluster outside kube-system and the spofless namespace (the
    previous run's namespaces are gone), then a few seconds more for the controllers to settle."""

    async def empty() -> bool:
        pods = (await cluster.get("/api/v1/pods"))["items"]
        return not [p for p in pods if p["metadata"]["namespace"] not in ("kube-system", "spofless-system")]

    await until("a quiet cluster", empty, timeout=900)
    await asyncio.sleep(settle)  # the settling time itself is what is waited for


async def pod_stages(cluster: Cluster, ns: str, start: float) -> dict[str, Any]:
    """The pods' way to Ready since `start` (monotonic), from one list of the namespace's pods, and
    when their Deployments were made."""
    listed = await cluster.get(f"/api/v1/namespaces/{ns}/pods")
    origin = time.time() - (time.monotonic() - start)
    stages = pipeline.stages(listed["items"], origin, None, names.LABEL_ZONE)
    return {**stages, "deployments_made": pipeline.made(await cluster.deployments(ns), origin)}


async def scale_floor(cluster: Cluster, sites: int) -> tuple[float, dict[str, list[float]], dict[str, Any]]:
    """A bare client making the same children for `sites` sites at once, then waiting for every pod
    to be ready and behind its Service: what the control plane alone needs for the same work. Also
    the ready pods and the sites with every pod ready, over time (for the plot)."""
    ns = await cluster.namespace(f"bench-floor-{int(time.time())}")
    zones = await zone_names(cluster)
    batches = [floor_manifests(zones, ns, f"s{i:04d}") for i in range(sites)]
    view, timeline = creation.CreationView(), Timeline()
    stop, tasks = await creation.watching(cluster.kube, ns, view, sites=False)
    tasks.append(asyncio.create_task(creation.sample(view, timeline, len(zones), stop)))
    start, cpu_before = time.monotonic(), pipeline.cpu_snapshot()

    async def all_served() -> bool:
        # Redundant means every pod ready and behind its Service: the same look for the floor.
        return view.served(len(zones)) == sites

    async def make(manifests: list[dict[str, Any]]) -> None:
        for manifest in manifests:
            await cluster.apply(manifest)

    try:
        await gather_limited([make(b) for b in batches])
        done = await until(f"{sites} floor sites' pods ready and served", all_served, timeout=1800)
    finally:
        await creation.stopped(stop, tasks)
    cluster_use = {"cpu": pipeline.cpu_between(cpu_before, pipeline.cpu_snapshot(), 0.0),
                   "pods": await pod_stages(cluster, ns, start)}  # fmt: skip
    kubectl("delete", "namespace", ns, "--wait=false")
    return done - start, timeline.since(start), cluster_use


async def gather_limited(jobs: list[Awaitable[None]], limit: int = 50) -> None:
    """Runs the jobs with at most `limit` at a time: as many requests in flight as the operator's
    client allows by default, so neither side wins by flooding the API server."""
    gate = asyncio.Semaphore(limit)

    async def one(job: Awaitable[None]) -> None:
        async with gate:
            await job

    await asyncio.gather(*(one(j) for j in jobs))


async def scale(cluster: Cluster, operator: Operator, audit: Audit, sites: int) -> dict[str, Any]:
    await quiet(cluster)
    floor, floor_series, floor_use = await scale_floor(cluster, sites)
    log(f"scale floor: {sites} sites' children ready after {floor:.1f} s")
    await quiet(cluster)
    ns = await cluster.namespace(f"bench-scale-{int(time.time())}")
    view, timeline = creation.CreationView(), Timeline()
    stop, tasks = await creation.watching(cluster.kube, ns, view, sites=True)
    tasks.append(asyncio.create_task(creation.sample(view, timeline, None, stop)))
    mark, cpu0, cpu_before = audit.mark(), operator.cpu_seconds(), pipeline.cpu_snapshot()
    waited0, causes0 = operator.by_label(profile.WAITED), operator.by_label("spofless_reconciles_total")
    start = time.monotonic()

    async def all_redundant() -> bool:
        return len(view.phases) == sites and view.redundant() == sites

    try:
        await gather_limited([cluster.create_site(ns, f"s{i:04d}") for i in range(sites)])
        last_create = time.monotonic()
        log(f"scale: {sites} sites created; waiting for all Redundant")
        done = await until(f"{sites} sites Redundant", all_redundant, timeout=1800)
    finally:
        await creation.stopped(stop, tasks)
    use = {"cpu": pipeline.cpu_between(cpu_before, pipeline.cpu_snapshot(), operator.cpu_seconds() - cpu0),
           "pods": await pod_stages(cluster, ns, start),
           "queue_wait": profile.waits(waited0, operator.by_label(profile.WAITED)),
           "passes_by_cause": blast.delta(causes0, operator.by_label("spofless_reconciles_total"))}  # fmt: skip
    return {"sites": sites, "all_redundant_after_first_create_s": done - start, "floor_s": floor,
            "replicas": 3, "series": timeline.since(start), "floor_series": floor_series,
            "ratio": (done - start) / floor, "all_redundant_after_last_create_s": done - last_create,
            "operator_peak_rss_mb": operator.peak_rss_mb(), "operator_cpu_s": operator.cpu_seconds() - cpu0,
            "namespace": ns, **{f"api_{k}": v for k, v in audit.count(mark).items()},
            "cluster_use": use, "floor_cluster_use": floor_use}  # fmt: skip


async def steady(cluster: Cluster, operator: Operator, audit: Audit, seconds: float) -> dict[str, Any]:
    """Nothing changes: the operator still resyncs every site on its timer, and must write nothing."""
    mark, passes0 = audit.mark(), operator.metric("spofless_reconciles_total")
    await asyncio.sleep(seconds)  # the quiet period itself is the measurement
    passes = operator.metric("spofless_reconciles_total") - passes0
    counts = audit.count(mark)
    return {"seconds": seconds, "reconciles": passes, **{f"api_{k}": v for k, v in counts.items()},
            "requests_per_reconcile": counts["requests"] / passes if passes else None}  # fmt: skip


async def failure(cluster: Cluster, runs: int) -> dict[str, Any]:
    """Zone outage (KWOK's node-not-ready stage on every node of zone-b) of a 6-replica site."""
    ns = await cluster.namespace(f"bench-failure-{int(time.time())}")
    await cluster.create_site(ns, "shop", replicas=6, failover={"enabled": True, "failbackAfterSeconds": 5})
    reported, restored, respread = [], [], []

    async def site() -> dict[str, Any]:
        return (await cluster.sites(ns))[0]

    async def zone_b(healthy: bool) -> bool:
        zones = (await site()).get("status", {}).get("zones", [])
        return any(z["name"] == "zone-b" and z["healthy"] is healthy for z in zones)

    async def replicas(expected: dict[str, int]) -> bool:
        return {
            d["metadata"]["labels"][names.LABEL_ZONE]: d["spec"]["replicas"] for d in await cluster.deployments(ns)
        } == expected

    await until("the site Redundant", lambda: _phase_is(site, "Redundant"))
    for run in range(runs):
        start = time.monotonic()
        kubectl("label", "nodes", "-l", "topology.kubernetes.io/zone=zone-b", f"{CHAOS}=true", "--overwrite")
        reported.append(await until("zone-b reported lost", lambda: zone_b(False)) - start)

        async def capacity() -> bool:
            return (
                bool(await replicas({"zone-a": 3, "zone-b": 2, "zone-c": 3}))
                and (await site()).get("status", {}).get("readyReplicas") == 6
            )

        restored.append(await until("capacity restored", capacity) - start)
        back = time.monotonic()
        kubectl("label", "nodes", "-l", "topology.kubernetes.io/zone=zone-b", f"{CHAOS}-")
        respread.append(
            await until("even spread again", lambda: replicas({"zone-a": 2, "zone-b": 2, "zone-c": 2})) - back
        )
        await until("the site Redundant", lambda: _phase_is(site, "Redundant"))
        log(
            f"failure {run + 1}/{runs}: reported {reported[-1]:.2f} s, restored {restored[-1]:.2f} s, even spread {respread[-1]:.2f} s"
        )
    kubectl("delete", "namespace", ns, "--wait=false")
    return {"runs": runs, "failback_window_s": 5,
            "outage_to_status_p50_s": statistics.median(reported), "outage_to_status_p95_s": pct(reported, 0.95),
            "outage_to_capacity_p50_s": statistics.median(restored), "outage_to_capacity_p95_s": pct(restored, 0.95),
            "recovery_to_even_spread_p50_s": statistics.median(respread), "recovery_to_even_spread_p95_s": pct(respread, 0.95)}  # fmt: skip


async def _phase_is(site: Callable[[], Awaitable[dict[str, Any]]], phase: str) -> bool:
    return phase_of(await site()) == phase


def table(results: dict[str, Any]) -> str:
    rows = []
    for section, values in results.items():
        if isinstance(values, dict):
            for key, value in values.items():
                if key.endswith("cluster_use"):  # where the time went: the pods' stages, each part's CPU
                    rows.append(f"{section:<9} {key:<38} {json.dumps(value)}")
                    continue
                if isinstance(value, list | dict):  # the series: in the JSON and the plots
                    continue
                rows.append(
                    f"{section:<9} {key:<38} {value:.3f}"
                    if isinstance(value, float)
                    else f"{section:<9} {key:<38} {value}"
                )
    return "\n".join(rows)


async def main(args: argparse.Namespace) -> dict[str, Any]:
    kubeconfig = None
    if args.service_account:
        kubeconfig = str(
            service_account_kubeconfig(
                args.service_account,
                Path(os.environ.get("SPOFLESS_BENCH_LOGS", "/tmp")) / "bench-operator-kubeconfig.json",
            )
        )
    operator = Operator(kubeconfig=kubeconfig, profile_prefix=Path(args.out).with_suffix("") if args.profile else None)
    audit = Audit(os.environ.get("SPOFLESS_AUDIT_LOG"), args.operator_user)
    kube = await Kube.connect()
    cluster = Cluster(kube)
    operator.start()
    try:
        await until("the operator's metrics", _answers(operator), timeout=60)
        results: dict[str, Any] = {
            "machine": {"cpus": os.cpu_count(), "python": platform.python_version(), "platform": platform.platform()}
        }
        if args.latency_sites:
            results["latency"] = await latency(cluster, args.latency_sites)
        if args.failure_runs:
            results["failure"] = await failure(cluster, args.failure_runs)
        if args.scale_sites:
            results["scale"] = await scale(cluster, operator, audit, args.scale_sites)
        if args.blast_sites:
            results["blast"] = await blast.run(cluster, operator, audit, args.blast_sites)
        if args.takeover_sites:
            operator.stop()  # two electing replicas instead, the first killed mid-outage
            pair = (Operator(kubeconfig, elect=True, name="leader"), Operator(kubeconfig, elect=True, name="standby"))
            results["takeover"] = await blast.takeover(cluster, pair, args.takeover_sites)
            operator.start()
        if args.steady_seconds:
            results["steady"] = await steady(cluster, operator, audit, args.steady_seconds)
        if "scale" in results:
            kubectl("delete", "namespace", results["scale"].pop("namespace"), "--wait=false")
        return results
    finally:
        operator.stop()
        await kube.close()
        for written in operator.profiles:
            print(
                profile.summary(written)
                if written.exists()
                else f"profile {written}: none, see {written.with_suffix('.log')}"
            )


def _answers(operator: Operator) -> Callable[[], Awaitable[bool]]:
    async def probe() -> bool:
        try:
            operator.metric("spofless_reconciles_total")
            return True
        except OSError:
            return False

    return probe


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--latency-sites", type=int, default=20)
    parser.add_argument("--failure-runs", type=int, default=5)
    parser.add_argument("--scale-sites", type=int, default=300)
    parser.add_argument("--steady-seconds", type=float, default=300)
    parser.add_argument("--blast-sites", type=int, default=300, help="sites under one zone outage (bench/blast.py)")
    parser.add_argument("--takeover-sites", type=int, default=0,
                        help="sites under one zone outage whose leader replica is killed mid-failover (bench/blast.py)")  # fmt: skip
    parser.add_argument("--profile", action="store_true",
                        help="record the operator's CPU profile with py-spy, and its work queue (bench/profile.py)")  # fmt: skip
    parser.add_argument(
        "--service-account", help="run the operator as this namespace/name (default: your kubeconfig's user)"
    )
    parser.add_argument("--operator-user", default="system:serviceaccount:spofless-system:spofless")
    parser.add_argument(
        "--out", default=str(ROOT / "bench" / "results" / f"bench-{time.strftime('%Y%m%d-%H%M%S')}.json")
    )
    arguments = parser.parse_args()
    outcome = asyncio.run(main(arguments))
    Path(arguments.out).parent.mkdir(parents=True, exist_ok=True)
    Path(arguments.out).write_text(json.dumps(outcome, indent=2))
    print(table(outcome))
    if "blast" in outcome:
        print(blast.table(outcome["blast"]))
    print(f"\nresults: {arguments.out}")
    for png in plot.write(outcome, Path(arguments.out).with_suffix("")):
        print(f"plot: {png}")
