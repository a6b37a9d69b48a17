"""What the creation bench (bench/run.py: scale) looks at, streamed rather than listed.

The namespace's Deployments, EndpointSlices and sites come through watches (bench/blast.py: watch),
and every look reads this view, not the API server: listing 1000 sites every 0.1 s took about 15 %
of kube-apiserver's CPU in the run it measured (its profile), and listing 3000 Deployments as much
in the floor's. Both sides are read the same way: ready pods from their Deployments' status.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from bench.blast import watch
from bench.timeline import Timeline
from spofless.core.model import names
from spofless.core.model.spec import GROUP, PLURAL, VERSION
from spofless.kube import Kube


@dataclass
class Deployment:
    site: str
    ready: int
    replicas: int


@dataclass
class CreationView:
    zones: int
    deployments: dict[str, Deployment] = field(default_factory=dict)
    endpoints: dict[str, dict[str, int]] = field(default_factory=dict)  # Service -> slice -> ready endpoints
    phases: dict[str, str] = field(default_factory=dict)  # site -> phase of its current generation

    def deployment(self, kind: str, body: dict[str, Any]) -> None:
        meta = body["metadata"]
        if kind == "DELETED":
            self.deployments.pop(meta["name"], None)
            return
        ready = (body.get("status") or {}).get("readyReplicas") or 0
        site = (meta.get("labels") or {}).get(names.LABEL_SITE, "")
        self.deployments[meta["name"]] = Deployment(site, ready, body["spec"].get("replicas") or 0)

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
        return sum(d.ready for d in self.deployments.values())

    def full_sites(self) -> int:
        """Sites whose every zone's Deployment has all its pods ready."""
        full = Counter(d.site for d in self.deployments.values() if d.ready == d.replicas)
        return sum(1 for n in full.values() if n == self.zones)

    def served(self, services: int, endpoints: int) -> bool:
        """`services` Services, each with `endpoints` ready endpoints over its slices."""
        ready = [sum(s.values()) for s in self.endpoints.values() if s]
        return len(ready) == services and all(n == endpoints for n in ready)

    def redundant(self) -> int:
        return sum(1 for p in self.phases.values() if p == "Redundant")


async def watching(
    kube: Kube, ns: str, view: CreationView, sites: bool
) -> tuple[asyncio.Event, list[asyncio.Task[None]]]:
    """Starts the namespace's watches (its sites' too if `sites`); set the event and cancel the tasks to end them."""
    stop = asyncio.Event()
    paths = [(f"/apis/apps/v1/namespaces/{ns}/deployments", view.deployment),
             (f"/apis/discovery.k8s.io/v1/namespaces/{ns}/endpointslices", view.endpoint_slice)]  # fmt: skip
    if sites:
        paths.append((f"/apis/{GROUP}/{VERSION}/namespaces/{ns}/{PLURAL}", view.site))
    return stop, [asyncio.create_task(watch(kube, path, seen, stop)) for path, seen in paths]


async def sample(view: CreationView, timeline: Timeline, sites: bool, stop: asyncio.Event, every: float = 0.5) -> None:
    """Ready pods, and sites Redundant (`sites`) or with every pod ready (the floor), for the plot."""
    while not stop.is_set():
        timeline.add(ready=view.ready_pods(), sites=view.redundant() if sites else view.full_sites())
        await asyncio.sleep(every)


async def stopped(stop: asyncio.Event, tasks: list[asyncio.Task[None]]) -> None:
    stop.set()
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
