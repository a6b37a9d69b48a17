"""Every pod the operator serves, from its own list-and-watch (reflector.py), not kopf's: the pods are
the objects that change by the thousand when a zone goes, and a pass reads a few fields of them.

One event does what three kopf handlers did:
- a site's own pod is filed under its site (what a pass reads of it), and a change to what a pass
  reads queues the site once its burst has settled; the silent-zone detector sees its readiness;
- every pod, the site's or not, adds to its node's load (the headroom): when the room for a zone's
  loss flips, every site's what-if is redone, once per burst;
- the operator's own replicas: the leader reports in which zones they are ready.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from spofless.core.judgement import headroom
from spofless.core.model import names
from spofless.core.model.spec import DEFAULT_TOPOLOGY_KEY
from spofless.core.observed import parse, records
from spofless.operator import metrics, usage
from spofless.operator.engine import Engine
from spofless.operator.objectindex import ObjectIndex

SiteKey = tuple[str, str]
HEADROOM_DELAY = 2.0  # seconds: one look at the fleet's headroom per burst of pod changes


def site_of(obj: Mapping[str, Any]) -> SiteKey | None:
    """The site an object carrying the operator's labels belongs to (None: no site's)."""
    meta = obj.get("metadata") or {}
    labels = meta.get("labels") or {}
    site = labels.get(names.LABEL_SITE)
    if labels.get(names.LABEL_MANAGED_BY) != names.MANAGED_BY or not site:
        return None
    return (str(meta.get("namespace") or ""), str(site))


@dataclass
class Pods:
    engine: Engine
    operator_namespace: str  # where the operator's own replicas run
    index: ObjectIndex[SiteKey, records.Pod] = field(default_factory=ObjectIndex)
    loads: usage.NodeLoads = field(default_factory=usage.NodeLoads)  # per-node sums of every pod's requests
    unabsorbable: frozenset[tuple[str, str]] | None = None  # zones whose loss the fleet could not absorb
    operator_pods: dict[str, tuple[str, bool]] = field(default_factory=dict)  # uid -> (node, ready)
    _seen: dict[str, tuple[SiteKey, records.Pod]] = field(default_factory=dict)  # uid -> what a pass read
    _headroom_check: asyncio.TimerHandle | None = None

    def apply(self, uid: str, pod: Mapping[str, Any] | None) -> None:
        self._site_pod(uid, pod)
        if (pod is not None and _is_operator(pod, self.operator_namespace)) or uid in self.operator_pods:
            self._operator_pod(uid, pod)
        if self.loads.update(uid, None if pod is None else parse.pod_load_from(pod)) and not self._headroom_check:
            self._headroom_check = asyncio.get_running_loop().call_later(HEADROOM_DELAY, self._headroom_changed)

    def _site_pod(self, uid: str, obj: Mapping[str, Any] | None) -> None:
        """A site's pod: filed under its site; its site is passed once the burst settled, when what a
        pass reads of it changed (a new IP or resourceVersion changes nothing it reads)."""
        key = None if obj is None else site_of(obj)
        held = self._seen.pop(uid, None)
        if key is None or obj is None:
            self.index.remove(uid)
            if held is not None:
                self.engine.enqueue_settled(held[0], "pods")
            return
        pod = parse.pod_from(obj)
        self.index.put(uid, {key: pod})
        self._seen[uid] = (key, pod)
        if self.engine.silence is not None:
            version = str((obj.get("metadata") or {}).get("resourceVersion") or "")
            self.engine.silence.pod_seen(key[0], pod, version)
        if held != (key, pod):
            self.engine.enqueue_settled(key, "pods")

    def _operator_pod(self, uid: str, obj: Mapping[str, Any] | None) -> None:
        """The leader reports where the operator's own ready replicas run (one zone is its own SPOF)."""
        if obj is None:
            self.operator_pods.pop(uid, None)
        else:
            pod = parse.pod_from(obj)
            self.operator_pods[uid] = (pod.node or "", pod.ready and not pod.terminating)
        if not self.engine.leadership.leading():
            return
        zone_of = {n.name: n.zone(DEFAULT_TOPOLOGY_KEY) or "" for n in self.engine.zones.nodes.values()}
        ready = Counter(zone_of.get(node, "") for node, ok in self.operator_pods.values() if ok)
        metrics.OPERATOR_REPLICAS.clear()
        for zone, count in ready.items():
            metrics.OPERATOR_REPLICAS.labels(zone).set(count)

    def _headroom_changed(self) -> None:
        self._headroom_check = None
        nodes = self.engine.indices.nodes.get(None, ()) if self.engine.indices is not None else ()
        now = headroom.unabsorbable(nodes, self.loads.per_node, self.engine.zones.topology_keys)
        before, self.unabsorbable = self.unabsorbable, now
        if before is not None and now != before:
            self.engine.fleet_later("headroom")

    def close(self) -> None:
        if self._headroom_check is not None:
            self._headroom_check.cancel()


def _is_operator(obj: Mapping[str, Any], namespace: str) -> bool:
    """A replica of this operator: the chart's pods of the operator component, in its namespace."""
    meta = obj.get("metadata") or {}
    labels = meta.get("labels") or {}
    return (
        meta.get("namespace") == namespace
        and labels.get("app.kubernetes.io/component") == "operator"
        and labels.get("app.kubernetes.io/part-of") == "spofless"
    )
