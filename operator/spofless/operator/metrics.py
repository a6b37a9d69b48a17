"""Prometheus metrics on /metrics: the engine's passes, queue and writes, and what the sites' statuses say.

Per-site series (`spofless_site_*`) are one per site (times a fixed set of phases or condition
types), so their cardinality is bounded by the number of sites the operator watches.
"""

from __future__ import annotations

from collections import Counter as Tally
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from prometheus_client import Counter, Gauge, Histogram, start_http_server
from prometheus_client.core import REGISTRY, GaugeMetricFamily
from prometheus_client.registry import Collector

from spofless.core.model import times

RECONCILES = Counter("spofless_reconciles_total", "Passes run, by what caused them.", ["cause"])
RECONCILE_ERRORS = Counter(
    "spofless_reconcile_errors_total", "Passes that failed, by sort: permanent, throttled, transient, crash.", ["sort"]
)
RECONCILE_SECONDS = Histogram(
    "spofless_reconcile_duration_seconds",
    "Time one pass took, API calls included.",
    buckets=(0.001, 0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
QUEUE_WAIT = Histogram(
    "spofless_queue_wait_seconds",
    "Time a site waited in the work queue before its pass started.",
    buckets=(0.001, 0.01, 0.1, 0.5, 1, 2.5, 5, 10, 30, 60, 120),
)
MOVES = Counter(
    "spofless_replica_moves_total", "Placements changed, by reason (Failover, Failback, Scaled).", ["reason"]
)
API_WRITES = Counter("spofless_api_writes_total", "Writes the operator sent to the API server, by verb.", ["verb"])
EVENTS_DROPPED = Counter(
    "spofless_events_dropped_total",
    "Events not sent: their queue was full (a burst past 1000), or this replica no longer leads.",
)
LEADER = Gauge("spofless_leader", "1 on the replica that holds the leader Lease (the one that writes), else 0.")
ZONE_HEALTHY = Gauge(
    "spofless_zone_healthy", "1 while the zone has a Ready node, 0 once it is lost (the cluster's zones).", ["zone"]
)
OPERATOR_REPLICAS = Gauge(
    "spofless_operator_ready_replicas",
    "Ready replicas of the operator itself, per zone (the leader reports).",
    ["zone"],
)
CONDITION_TYPES = (
    "Ready", "Redundant", "FailoverActive", "CapacityShort", "RolloutHalted", "Reconciled", "Reconciling", "Stalled",
)  # fmt: skip
PHASES = ("Redundant", "Degraded", "AtRisk", "Invalid", "Pending")


@dataclass(frozen=True)
class Summary:
    """What the gauges read of one site's status: a few fields, not the whole status."""

    phase: str
    findings: tuple[tuple[str, str], ...]  # (scope, severity)
    lost_zones: int
    conditions: tuple[tuple[str, bool], ...]  # (type, True?) for CONDITION_TYPES present
    spof_since: float | None  # unix time the site last turned SPOF (the Redundant condition's flip)

    @classmethod
    def of(cls, status: Mapping[str, Any]) -> Summary:
        conditions = {c.get("type"): c for c in status.get("conditions", []) if isinstance(c, Mapping)}
        redundant = conditions.get("Redundant") or {}
        moment = times.parse(redundant.get("lastTransitionTime")) if redundant.get("status") == "False" else None
        since = moment.timestamp() if moment is not None else None
        return cls(
            phase=status.get("phase", "Pending"),
            findings=tuple(
                (f.get("scope", ""), f.get("severity", "SPOF")) for f in status.get("singlePointsOfFailure", [])
            ),
            lost_zones=sum(1 for z in status.get("zones", []) if not z.get("healthy", True)),
            conditions=tuple((t, conditions[t].get("status") == "True") for t in CONDITION_TYPES if t in conditions),
            spof_since=since,
        )


class StatusCollector(Collector):
    """Gauges computed at scrape time from the last status decided for each site."""

    def __init__(self) -> None:
        self.sites: dict[tuple[str, str], Summary] = {}

    def record(self, key: tuple[str, str], status: Mapping[str, Any]) -> None:
        self.sites[key] = Summary.of(status)

    def forget(self, key: tuple[str, str]) -> None:
        self.sites.pop(key, None)

    def clear(self) -> None:
        self.sites.clear()

    def collect(self) -> Iterator[GaugeMetricFamily]:
        # Scrapes run on the HTTP server's thread while the loop updates the dict: read a copy (atomic).
        sites = self.sites.copy()
        phases = GaugeMetricFamily("spofless_sites", "Sites by phase.", labels=["phase"])
        for phase, n in sorted(Tally(s.phase for s in sites.values()).items()):
            phases.add_metric([phase], n)
        yield phases
        spofs = GaugeMetricFamily(
            "spofless_spof_findings", "Single points of failure (and warnings) by scope.", labels=["scope", "severity"]
        )
        found = Tally(f for s in sites.values() for f in s.findings)
        for (scope, severity), n in sorted(found.items()):
            spofs.add_metric([scope, severity], n)
        yield spofs
        lost = GaugeMetricFamily("spofless_lost_zones", "Zones seen as lost, summed over sites.")
        lost.add_metric([], sum(s.lost_zones for s in sites.values()))
        yield lost
        yield from self._per_site(sites)

    @staticmethod
    def _per_site(sites: Mapping[tuple[str, str], Summary]) -> Iterator[GaugeMetricFamily]:
        phase = GaugeMetricFamily(
            "spofless_site_phase", "1 for each site's current phase.", labels=["namespace", "site", "phase"]
        )
        spof = GaugeMetricFamily("spofless_site_spof", "1 while the site has a single point of failure.",
                                 labels=["namespace", "site"])  # fmt: skip
        since = GaugeMetricFamily(
            "spofless_site_spof_since_timestamp_seconds",
            "Unix time the site last turned to having a single point of failure (absent while it has none).",
            labels=["namespace", "site"],
        )
        condition = GaugeMetricFamily(
            "spofless_site_condition",
            "1 while the site's condition is True, else 0.",
            labels=["namespace", "site", "type"],
        )
        for (namespace, name), s in sorted(sites.items()):
            phase.add_metric([namespace, name, s.phase], 1)
            spof.add_metric([namespace, name], 1 if any(sev == "SPOF" for _, sev in s.findings) else 0)
            if s.spof_since is not None:
                since.add_metric([namespace, name], s.spof_since)
            for kind, true in s.conditions:
                condition.add_metric([namespace, name, kind], 1 if true else 0)
        yield from (phase, spof, since, condition)


class Queued(Protocol):
    def depth(self, lane: Any) -> int: ...


class EngineCollector(Collector):
    """The work queue's depth per lane, read at scrape time."""

    def __init__(self) -> None:
        self.engine: Queued | None = None

    def attach(self, engine: Queued) -> None:
        self.engine = engine

    def collect(self) -> Iterator[GaugeMetricFamily]:
        from spofless.operator.queue import LANE_NAMES

        depth = GaugeMetricFamily("spofless_queue_depth", "Sites waiting in the work queue, per lane.", labels=["lane"])
        for lane, name in LANE_NAMES.items():
            depth.add_metric([name], self.engine.depth(lane) if self.engine is not None else 0)
        yield depth


STATUSES = StatusCollector()
REGISTRY.register(STATUSES)
ENGINE = EngineCollector()
REGISTRY.register(ENGINE)


def serve(port: int) -> None:
    """Serves /metrics on a background thread."""
    start_http_server(port)
