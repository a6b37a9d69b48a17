"""The chart's alerts and dashboard against a real Prometheus (Debian's binary, a local process)
scraping the suite's operator: a zone lost fires the alerts (the site's SPOF, the zone) and its
return resolves them, and every dashboard query parses, runs and reads only metrics the operator
exports.

The alerting rules are the chart's, rendered with test-only thresholds (a SPOF alerts at once, a lost
zone without waiting) so that a scenario takes seconds; the shipped thresholds stay as values.yaml
has them, and promtool's unit tests (tests/chart/alerts.promtool.yaml) hold them.
"""

from __future__ import annotations

import urllib.request
from collections.abc import Iterator

import pytest
from prometheus_client.parser import text_string_to_metric_families

from ..chart.render import alert_rules, dashboard_queries, helm_binary, metric_names
from . import prometheus
from .cluster import apply, wait_for
from .conftest import LOGS, Operator, zones
from .faults import NOTICE_S, lose_zone, restore_zone
from .prometheus import Prometheus
from .sites import manifest, wait_phase

SITE = "shop"


@pytest.fixture(scope="module")
def prom(operator: Operator | None) -> Iterator[Prometheus]:
    if operator is None:
        pytest.skip(
            "scrapes the operator process the suite runs, and here it runs in the cluster "
            "(SPOFLESS_E2E_OPERATOR=external); the local cluster's suite runs it"
        )
    binary = prometheus.binary()
    if binary is None:
        pytest.fail("prometheus is not on PATH: Debian's prometheus package (hack/test.sh installs it)", pytrace=False)
    rules = alert_rules(
        helm_binary(), "metrics.prometheusRule.spofAfterSeconds=0", "metrics.prometheusRule.for.zoneLost=0s"
    )
    server = Prometheus(binary, LOGS / "prometheus", f"127.0.0.1:{operator.metrics_port}", rules)
    try:
        yield server
    finally:
        server.stop()


def exported(operator: Operator) -> set[str]:
    """Every series name the operator's /metrics can show: each family's samples, and the names its
    type makes even before a first sample (a labelled counter with no child yet shows none)."""
    with urllib.request.urlopen(f"http://127.0.0.1:{operator.metrics_port}/metrics", timeout=10) as reply:
        text = reply.read().decode()
    names: set[str] = set()
    for family in text_string_to_metric_families(text):
        suffixes = {"counter": ["_total"], "histogram": ["_bucket", "_count", "_sum"]}.get(family.type, [""])
        names |= {family.name + s for s in suffixes} | {s.name for s in family.samples}
    return names


def test_a_lost_zone_fires_the_alerts_and_its_return_resolves_them(
    ns: str, healthy_nodes: None, operator: Operator, prom: Prometheus
) -> None:
    a, b = zones()[:2]
    site = {"namespace": ns, "site": SITE}
    apply(manifest(SITE, ns, replicas=2, zones=[a, b], failover={"failbackAfterSeconds": 5}))
    wait_phase(SITE, ns, "Redundant", readyReplicas=2, timeout=180)
    selector = f'namespace="{ns}",site="{SITE}"'
    wait_for("Prometheus seeing the site without a SPOF", lambda: prom.query(f"spofless_site_spof{{{selector}}} == 0"))
    # The site stood on one pillar while it came up (with the test's threshold of 0 s, that already
    # alerts): the alert clears at Prometheus' next evaluation of the rule, not at once.
    wait_for("no SpoflessSiteSinglePointOfFailure for the site once it is Redundant",
             lambda: not any(prom.alerts("SpoflessSiteSinglePointOfFailure", state, **site) for state in ("pending", "firing")),
             timeout=60)  # fmt: skip
    wait_for(f"no SpoflessZoneLost for {b}", lambda: not prom.alerts("SpoflessZoneLost", zone=b), timeout=60)

    lose_zone(b)
    wait_phase(SITE, ns, "AtRisk", timeout=60 + NOTICE_S)
    (firing,) = wait_for(
        "SpoflessSiteSinglePointOfFailure firing for the site",
        lambda: prom.alerts("SpoflessSiteSinglePointOfFailure", **site),
        timeout=60,
    )
    assert firing["labels"]["severity"] == "critical"
    assert f"{ns}/{SITE} has had a single point of failure" in firing["annotations"]["description"]
    (lost,) = wait_for(f"SpoflessZoneLost firing for {b}", lambda: prom.alerts("SpoflessZoneLost", zone=b), timeout=60)
    assert lost["labels"]["severity"] == "warning"

    restore_zone(b)
    wait_phase(SITE, ns, "Redundant", readyReplicas=2, timeout=180)
    wait_for(
        "SpoflessSiteSinglePointOfFailure resolved",
        lambda: not prom.alerts("SpoflessSiteSinglePointOfFailure", "firing", **site),
        timeout=60,
    )
    wait_for(f"SpoflessZoneLost resolved for {b}", lambda: not prom.alerts("SpoflessZoneLost", zone=b), timeout=60)


def test_every_dashboard_query_runs_on_metrics_the_operator_exports(operator: Operator, prom: Prometheus) -> None:
    names = exported(operator)
    refused = {}
    for title, expr in dashboard_queries():
        try:
            prom.query(expr)
        except ValueError as err:
            refused[title] = str(err)
    assert not refused, f"Prometheus refused dashboard queries: {refused}"
    unknown = {(title, m) for title, expr in dashboard_queries() for m in metric_names(expr) if m not in names}
    assert not unknown, f"panels read metrics the operator does not export: {sorted(unknown)}"
