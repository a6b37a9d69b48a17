"""What the creation bench (bench/run.py: scale) looks at, streamed rather than listed.

The namespace's EndpointSlices and sites come through watches (bench/blast.py: watch), and every
look reads this view, not the API server: listing 1000 sites every 0.1 s took about 15 % of
kube-apiserver's CPU in the run it measured (its profile), and listing 3000 Deployments as much in
the floor's. Both sides are read the same way: pods ready behind their Service, from the slices. (A
Deployment's readyReplicas is no measure here: kube-controller-manager, starved of CPU, wrote it up
to a minute after the pods were ready.)
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any

from bench.blast import watch
from bench.timeline import Timeline
from spofless.core.model.spec import GROUP, PLURAL, VERSION
from spofless.kube import Kube


@dataclass
class CreationView:
    endpoints: dict[str, dict[str, int]] = field(default_factory=dict)  # Service -> slice -> ready endpoints
    phases: dict[str, str] = field(default_factory=dict)  # site -> phase of its current generation

    def endpoint_slice(self, kind: str, body: dict[str, Any]) -> None:
        meta = body["metadata"]
        service = (meta.get("labels") or {}).get("kubernetes.io/service-name", "")
        slices = self.endpoints.setdefault(service, {})
        if kind == "DELETED":
            slices.pop(meta["name"], None)
            return
        up = [e for e in body.get("endpoints") or [] if (e.get("conditions") or {}).get("ready")]
        slices[meta["name"]] = len(up)

    def site(self, kind: str, body: dict[str, Any]) -> None:
        meta, status = body["metadata"], body.get("status") or {}
        if kind == "DELETED":
            self.phases.pop(meta["name"], None)
        elif status.get("observedGeneration") == meta.get("generation"):
            self.phases[meta["name"]] = str(status.get("phase"))

    def ready_pods(self) -> int:
        """Pods ready behind their Service."""
        return sum(sum(s.values()) for s in self.endpoints.values())

    def served(self, endpoints: int) -> int:
        """Services with `endpoints` ready endpoints over their slices: the floor's sites done."""
        return sum(1 for s in self.endpoints.values() if s and sum(s.values()) == endpoints)

    def redundant(self) -> int:
        return sum(1 for p in self.phases.values() if p == "Redundant")


async def watching(
    kube: Kube, ns: str, view: CreationView, sites: bool
) -> tuple[asyncio.Event, list[asyncio.Task[None]]]:
    """Starts the namespace's watches (its sites' too if `sites`); set the event and cancel the tasks to end them."""
    stop = asyncio.Event()
    paths = [(f"/apis/discovery.k8s.io/v1/namespaces/{ns}/endpointslices", view.endpoint_slice)]
    if sites:
        paths.append((f"/apis/{GROUP}/{VERSION}/namespaces/{ns}/{PLURAL}", view.site))
    return stop, [asyncio.create_task(watch(kube, path, seen, stop)) for path, seen in paths]


async def sample(view: CreationView, timeline: Timeline, replicas: int | None, stop: asyncio.Event,
                 every: float = 0.5) -> None:  # fmt: skip
    """Ready pods, and sites Redundant, or for the floor (`replicas` given) served with every replica ready."""
    while not stop.is_set():
        done = view.redundant() if replicas is None else view.served(replicas)
        timeline.add(ready=view.ready_pods(), sites=done)
        await asyncio.sleep(every)


async def stopped(stop: asyncio.Event, tasks: list[asyncio.Task[None]]) -> None:
    stop.set()
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
