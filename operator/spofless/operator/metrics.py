"""Prometheus metrics on /metrics: reconciles, and what the sites' statuses say."""

from __future__ import annotations

from collections import Counter as Tally
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from prometheus_client import Counter, Histogram, start_http_server
from prometheus_client.core import REGISTRY, GaugeMetricFamily
from prometheus_client.registry import Collector

RECONCILES = Counter("spofless_reconciles_total", "Reconcile passes run.")
RECONCILE_ERRORS = Counter("spofless_reconcile_errors_total", "Reconcile passes that failed on an API call.")
RECONCILE_SECONDS = Histogram(
    "spofless_reconcile_duration_seconds",
    "Time one reconcile took, API calls included.",
    buckets=(0.001, 0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
MOVES = Counter(
    "spofless_replica_moves_total", "Placements changed, by reason (Failover, Failback, Scaled).", ["reason"]
)
API_WRITES = Counter("spofless_api_writes_total", "Writes the operator sent to the API server, by verb.", ["verb"])


@dataclass(frozen=True)
class Summary:
    """What the gauges read of one site's status: a few fields, not the whole status."""

    phase: str
    findings: tuple[tuple[str, str], ...]  # (scope, severity)
    lost_zones: int

    @classmethod
    def of(cls, status: Mapping[str, Any]) -> Summary:
        return cls(
            phase=status.get("phase", "Pending"),
            findings=tuple(
                (f.get("scope", ""), f.get("severity", "SPOF")) for f in status.get("singlePointsOfFailure", [])
            ),
            lost_zones=sum(1 for z in status.get("zones", []) if not z.get("healthy", True)),
        )


class StatusCollector(Collector):
    """Gauges computed at scrape time from the last status decided for each site."""

    def __init__(self) -> None:
        self.sites: dict[tuple[str, str], Summary] = {}

    def record(self, key: tuple[str, str], status: Mapping[str, Any]) -> None:
        self.sites[key] = Summary.of(status)

    def forget(self, key: tuple[str, str]) -> None:
        self.sites.pop(key, None)

    def collect(self) -> Iterator[GaugeMetricFamily]:
        phases = GaugeMetricFamily("spofless_sites", "Sites by phase.", labels=["phase"])
        for phase, n in sorted(Tally(s.phase for s in self.sites.values()).items()):
            phases.add_metric([phase], n)
        yield phases
        spofs = GaugeMetricFamily(
            "spofless_spof_findings", "Single points of failure (and warnings) by scope.", labels=["scope", "severity"]
        )
        found = Tally(f for s in self.sites.values() for f in s.findings)
        for (scope, severity), n in sorted(found.items()):
            spofs.add_metric([scope, severity], n)
        yield spofs
        lost = GaugeMetricFamily("spofless_lost_zones", "Zones seen as lost, summed over sites.")
        lost.add_metric([], sum(s.lost_zones for s in self.sites.values()))
        yield lost


STATUSES = StatusCollector()
REGISTRY.register(STATUSES)


def serve(port: int) -> None:
    """Serves /metrics on a background thread."""
    start_http_server(port)
