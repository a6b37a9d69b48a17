"""What one pod or EndpointSlice event does (podwatch.py, slicewatch.py): where it is filed, which
sites it passes and when, and what it adds to its node's load. The engine is a recorder."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any

from spofless.core.model import names
from spofless.operator import podwatch
from spofless.operator.podwatch import Pods
from spofless.operator.slicewatch import EndpointSlices

SITE_LABELS = {names.LABEL_MANAGED_BY: names.MANAGED_BY, names.LABEL_SITE: "shop"}


@dataclass
class Leading:
    def leading(self) -> bool:
        return True


@dataclass
class Zones:
    nodes: dict[str, Any] = field(default_factory=dict)
    topology_keys: tuple[str, ...] = ("topology.kubernetes.io/zone",)


@dataclass
class Recorder:
    """The engine, as the watches see it: what they queued."""

    settled: list[tuple[str, str]] = field(default_factory=list)
    now: list[tuple[str, str]] = field(default_factory=list)
    fleet: list[str] = field(default_factory=list)
    silence: Any = None
    indices: Any = None
    leadership: Leading = field(default_factory=Leading)
    zones: Zones = field(default_factory=Zones)

    def enqueue_settled(self, key: tuple[str, str], cause: str) -> None:
        self.settled.append(key)

    def enqueue(self, key: tuple[str, str], cause: str) -> None:
        self.now.append(key)

    def fleet_later(self, cause: str) -> None:
        self.fleet.append(cause)


def pod(name: str, version: str = "1", ready: bool = True, labels: dict[str, str] | None = None,
        namespace: str = "web", cpu: str = "100m") -> dict[str, Any]:  # fmt: skip
    return {
        "metadata": {
            "name": name,
            "namespace": namespace,
            "uid": f"uid-{name}",
            "resourceVersion": version,
            "labels": SITE_LABELS if labels is None else labels,
        },
        "spec": {"nodeName": "node-a", "containers": [{"name": "c", "resources": {"requests": {"cpu": cpu}}}]},
        "status": {"conditions": [{"type": "Ready", "status": "True" if ready else "False"}]},
    }


def run(scenario: Any) -> Any:
    async def inside() -> Any:
        return scenario()

    return asyncio.run(inside())


def test_a_site_pod_is_filed_under_its_site_and_passes_it_only_when_what_a_pass_reads_changed() -> None:
    engine = Recorder()
    pods = Pods(engine, "spofless-system")  # type: ignore[arg-type]

    def scenario() -> None:
        pods.apply("uid-p", pod("p"))
        pods.apply("uid-p", pod("p", version="2"))  # a new resourceVersion only
        assert engine.settled == [("web", "shop")]
        pods.apply("uid-p", pod("p", version="3", ready=False))
        assert engine.settled == [("web", "shop")] * 2
        assert [p.ready for p in pods.index[("web", "shop")]] == [False]
        pods.apply("uid-p", None)
        assert engine.settled == [("web", "shop")] * 3 and ("web", "shop") not in pods.index
        pods.close()

    run(scenario)


def test_every_pod_adds_to_its_node_load_but_only_a_site_pod_is_filed() -> None:
    engine = Recorder()
    pods = Pods(engine, "spofless-system")  # type: ignore[arg-type]

    def scenario() -> None:
        pods.apply("uid-other", pod("other", labels={"app": "x"}, cpu="200m"))
        pods.apply("uid-p", pod("p"))
        load = pods.loads.per_node["node-a"]
        assert (load.pods, load.cpu_milli, load.site_pods, load.site_cpu_milli) == (2, 300, 1, 100)
        assert list(pods.index) == [("web", "shop")] and engine.settled == [("web", "shop")]
        pods.apply("uid-other", None)
        assert pods.loads.per_node["node-a"].pods == 1
        pods.close()

    run(scenario)


def test_the_headroom_is_looked_at_once_per_burst(monkeypatch: Any) -> None:
    monkeypatch.setattr(podwatch, "HEADROOM_DELAY", 0.05)
    engine = Recorder()

    async def scenario() -> list[Any]:
        pods = Pods(engine, "spofless-system")  # type: ignore[arg-type]
        for i in range(20):
            pods.apply(f"uid-{i}", pod(str(i)))
        first = pods.unabsorbable
        looked = asyncio.Event()
        loop = asyncio.get_running_loop()
        loop.call_later(0.05, looked.set)  # the look is due with this, and runs before it
        await asyncio.wait_for(looked.wait(), timeout=5)
        return [first, pods.unabsorbable, pods._headroom_check]

    before, after, pending = asyncio.run(scenario())
    assert before is None and after is not None and pending is None, "one look, after the burst"


def test_the_operator_s_own_replicas_are_counted_and_forgotten() -> None:
    engine = Recorder()
    pods = Pods(engine, "spofless-system")  # type: ignore[arg-type]
    labels = {"app.kubernetes.io/component": "operator", "app.kubernetes.io/part-of": "spofless"}

    def scenario() -> None:
        pods.apply("uid-op", pod("op", labels=labels, namespace="spofless-system"))
        pods.apply("uid-lookalike", pod("lookalike", labels=labels, namespace="web"))
        assert pods.operator_pods == {"uid-op": ("node-a", True)}
        pods.apply("uid-op", None)
        assert pods.operator_pods == {}
        pods.close()

    run(scenario)


def endpoint_slice(name: str, service: str, ready: bool = True, version: str = "1",
                   labels: dict[str, str] | None = None) -> dict[str, Any]:  # fmt: skip
    return {
        "kind": "EndpointSlice",
        "metadata": {
            "name": name,
            "namespace": "web",
            "uid": f"uid-{name}",
            "resourceVersion": version,
            "labels": {**(labels or {}), "kubernetes.io/service-name": service},
        },
        "endpoints": [{"conditions": {"ready": ready}, "zone": "a", "nodeName": "node-a"}],
    }


def test_a_site_slice_is_filed_under_its_site_and_passes_it_once_settled() -> None:
    engine = Recorder()
    slices = EndpointSlices(engine, dependents={("web", "shop"): [("web", "front")]})  # type: ignore[arg-type]
    slices.apply("uid-s", endpoint_slice("s", "shop", labels=SITE_LABELS))
    slices.apply("uid-s", endpoint_slice("s", "shop", labels=SITE_LABELS, version="2"))
    assert [e.ready for part in slices.sites[("web", "shop")] for e in part] == [True]
    assert dict(slices.services) == {}, "a site's own slice is not filed as a dependency"
    assert engine.settled == [("web", "shop")] and engine.now == [("web", "front")]
    slices.apply("uid-s", endpoint_slice("s", "shop", labels=SITE_LABELS, ready=False, version="3"))
    assert engine.settled == [("web", "shop")] * 2 and engine.now == [("web", "front")] * 2


def test_any_other_slice_is_filed_under_its_service_and_passes_its_dependents_at_once() -> None:
    engine = Recorder()
    slices = EndpointSlices(engine, dependents={("web", "db"): [("web", "shop")]})  # type: ignore[arg-type]
    slices.apply("uid-d", endpoint_slice("d", "db"))
    assert [e.ready for part in slices.services[("web", "db", "endpoints")] for e in part] == [True]
    assert engine.now == [("web", "shop")] and engine.settled == []
    slices.apply("uid-d", None)
    assert dict(slices.services) == {} and engine.now == [("web", "shop")] * 2
    slices.apply("uid-x", endpoint_slice("x", "nobody-needs"))
    assert engine.now == [("web", "shop")] * 2
