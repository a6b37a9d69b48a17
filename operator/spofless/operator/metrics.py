"""Prometheus metrics on /metrics: reconciles, and what the sites' statuses say."""

from __future__ import annotations

from collections import Counter as Tally
from collections.abc import Iterator, Mapping
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


class StatusCollector(Collector):
    """Gauges computed at scrape time from the last status written for each site."""

    def __init__(self) -> None:
        self.statuses: dict[tuple[str, str], Mapping[str, Any]] = {}

    def collect(self) -> Iterator[GaugeMetricFamily]:
        phases = GaugeMetricFamily("spofless_sites", "Sites by phase.", labels=["phase"])
        for phase, n in sorted(Tally(s.get("phase", "Pending") for s in self.statuses.values()).items()):
            phases.add_metric([phase], n)
        yield phases
        spofs = GaugeMetricFamily(
            "spofless_spof_findings", "Single points of failure (and warnings) by scope.", labels=["scope", "severity"]
        )
        found = Tally(
            (f.get("scope", ""), f.get("severity", "SPOF"))
            for s in self.statuses.values()
            for f in s.get("singlePointsOfFailure", [])
        )
        for (scope, severity), n in sorted(found.items()):
            spofs.add_metric([scope, severity], n)
        yield spofs
        lost = GaugeMetricFamily("spofless_lost_zones", "Zones seen as lost, summed over sites.")
        lost.add_metric(
            [], sum(1 for s in self.statuses.values() for z in s.get("zones", []) if not z.get("healthy", True))
        )
        yield lost


STATUSES = StatusCollector()
REGISTRY.register(STATUSES)


def serve(port: int) -> None:
    """Serves /metrics on a background thread."""
    start_http_server(port)
