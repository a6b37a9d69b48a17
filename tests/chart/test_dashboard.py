"""The chart's Grafana dashboard: off by default, a ConfigMap the Grafana sidecar picks up, and a panel
for each question the operations docs promise. tests/e2e/test_monitoring.py runs every query against
a real Prometheus scraping a running operator."""

from __future__ import annotations

import json
import re

from .render import DASHBOARD, GRAFANA_VARIABLES, dashboard_queries, metric_names, only, template


def test_off_by_default(helm: str) -> None:
    assert not [o for o in template(helm) if o["kind"] == "ConfigMap"]


def test_a_configmap_for_grafanas_sidecar_holding_the_dashboard(helm: str) -> None:
    objects = template(
        helm,
        "--set", "metrics.grafanaDashboard.enabled=true",
        "--set", "metrics.grafanaDashboard.namespace=monitoring",
        "--set", "metrics.grafanaDashboard.annotations.grafana_folder=spofless",
    )  # fmt: skip
    config = only(objects, "ConfigMap")
    assert config["metadata"]["labels"]["grafana_dashboard"] == "1"
    assert config["metadata"]["namespace"] == "monitoring"
    assert config["metadata"]["annotations"] == {"grafana_folder": "spofless"}
    assert json.loads(config["data"]["spofless.json"]) == json.loads(DASHBOARD.read_text())


def test_every_panel_queries_through_the_chosen_data_source() -> None:
    dashboard = json.loads(DASHBOARD.read_text())
    assert dashboard["uid"] == "spofless"
    assert {v["name"] for v in dashboard["templating"]["list"]} >= {"datasource", "namespace"}
    ids = [p["id"] for p in dashboard["panels"]]
    assert len(ids) == len(set(ids)), "panel ids are unique"
    for panel in dashboard["panels"]:
        if panel["type"] == "row":
            continue
        assert panel["datasource"] == {"type": "prometheus", "uid": "${datasource}"}, panel["title"]
        assert panel["targets"] and panel.get("description"), panel["title"]
        for target in panel["targets"]:
            assert target["datasource"] == panel["datasource"], panel["title"]
            leftover = re.findall(r"\$\w+", target["expr"])
            assert set(leftover) <= set(GRAFANA_VARIABLES), f"{panel['title']}: unknown variables {leftover}"


def test_the_panels_the_docs_promise() -> None:
    """Sites by phase; sites with a SPOF and since when; zones lost; moves; reconcile latency and errors;
    API writes; queue depth: each read from the metric that answers it."""
    read = {title: metric_names(expr) for title, expr in dashboard_queries()}
    wanted = {
        "Sites by phase": "spofless_site_phase",
        "Sites with a SPOF": "spofless_site_spof",
        "Sites with a SPOF, and since when": "spofless_site_spof_since_timestamp_seconds",
        "Zones lost": "spofless_zone_healthy",
        "Replica moves": "spofless_replica_moves_total",
        "Reconcile latency": "spofless_reconcile_duration_seconds_bucket",
        "Reconcile errors by sort": "spofless_reconcile_errors_total",
        "API writes by verb": "spofless_api_writes_total",
        "Queue depth by lane": "spofless_queue_depth",
    }
    for title, metric in wanted.items():
        assert metric in read.get(title, set()), f"panel {title!r} reads {read.get(title)}, not {metric}"
