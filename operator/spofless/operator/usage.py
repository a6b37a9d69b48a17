"""What the pods bound to each node request, summed per node one pod event at a time: the
headroom's input, kept by the shell so no pass walks every pod of the cluster."""

from __future__ import annotations

from collections.abc import Hashable
from dataclasses import replace

from spofless.core.observed.records import Load, PodLoad


class NodeLoads:
    """Per-node sums of what the pods bound there request, updated one pod event at a time
    (O(1) each), so no pass ever walks every pod of the cluster."""

    def __init__(self) -> None:
        self.records: dict[Hashable, PodLoad] = {}
        self.per_node: dict[str, Load] = {}

    def update(self, key: Hashable, record: PodLoad | None) -> bool:
        """Records the pod's new load (None: it holds none any more). True when a sum changed."""
        old = self.records.pop(key, None)
        if record is not None:
            self.records[key] = record
        if old == record:
            return False
        if old is not None:
            self._add(old, -1)
        if record is not None:
            self._add(record, 1)
        return True

    def _add(self, pod: PodLoad, sign: int) -> None:
        load = self.per_node.get(pod.node, Load())
        load = replace(
            load,
            pods=load.pods + sign,
            cpu_milli=load.cpu_milli + sign * pod.cpu_milli,
            memory_bytes=load.memory_bytes + sign * pod.memory_bytes,
        )
        if pod.site:
            load = replace(
                load,
                site_pods=load.site_pods + sign,
                site_cpu_milli=load.site_cpu_milli + sign * pod.cpu_milli,
                site_memory_bytes=load.site_memory_bytes + sign * pod.memory_bytes,
            )
        if load.pods == 0:
            self.per_node.pop(pod.node, None)
        else:
            self.per_node[pod.node] = load
