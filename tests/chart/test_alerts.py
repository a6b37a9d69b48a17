"""The chart's alerts: off by default, valid for promtool, and each one unit-tested by promtool
(alerts.promtool.yaml) as the chart renders it. docs/operations/alerts.md has a runbook for each."""

from __future__ import annotations

import re
import shutil
from pathlib import Path
from typing import Any

import pytest
import yaml

from .render import ROOT, alert_rules, only, run, template

PROMTOOL_TESTS = Path(__file__).with_name("alerts.promtool.yaml")
RUNBOOKS = ROOT / "docs" / "operations" / "alerts.md"


def alerts(rules: dict[str, Any]) -> list[dict[str, Any]]:
    return [r for group in rules["groups"] for r in group["rules"] if "alert" in r]


def promtool_test(promtool: str, rules: dict[str, Any], tmp_path: Path) -> tuple[bool, str]:
    """Whether `promtool test rules` passed, and what it said."""
    (tmp_path / "rules.yaml").write_text(yaml.safe_dump(rules))
    shutil.copy(PROMTOOL_TESTS, tmp_path / PROMTOOL_TESTS.name)
    done = run(promtool, "test", "rules", PROMTOOL_TESTS.name, cwd=tmp_path, check=False)
    return done.returncode == 0, done.stdout + done.stderr


def test_off_by_default(helm: str) -> None:
    assert not [o for o in template(helm) if o["kind"] == "PrometheusRule"]


def test_the_rule_object_carries_its_selector_labels(helm: str) -> None:
    objects = template(
        helm, "--set", "metrics.prometheusRule.enabled=true", "--set", "metrics.prometheusRule.labels.release=prom"
    )
    rule = only(objects, "PrometheusRule")
    assert rule["apiVersion"] == "monitoring.coreos.com/v1"
    assert rule["metadata"]["labels"]["release"] == "prom"


def test_promtool_checks_the_rules(helm: str, promtool: str, tmp_path: Path) -> None:
    (tmp_path / "rules.yaml").write_text(yaml.safe_dump(alert_rules(helm)))
    out = run(promtool, "check", "rules", str(tmp_path / "rules.yaml")).stdout
    assert f"SUCCESS: {len(alerts(alert_rules(helm)))} rules found" in out, out


def test_promtool_unit_tests_pass(helm: str, promtool: str, tmp_path: Path) -> None:
    passed, out = promtool_test(promtool, alert_rules(helm), tmp_path)
    assert passed and "SUCCESS" in out, out


@pytest.mark.parametrize(
    "values",
    [
        "metrics.prometheusRule.spofAfterSeconds=1200",
        "metrics.prometheusRule.for.zoneLost=10m",
        "metrics.prometheusRule.queueWaitSeconds=600",
        "metrics.prometheusRule.minOperatorZones=1",
    ],
)
def test_the_unit_tests_see_a_threshold_change(helm: str, promtool: str, tmp_path: Path, values: str) -> None:
    """The promtool tests hold each threshold: moved, they fail (so they are not vacuous)."""
    passed, out = promtool_test(promtool, alert_rules(helm, values), tmp_path)
    assert not passed and "FAILED" in out, f"with {values} the promtool tests still pass:\n{out}"


def test_every_alert_is_unit_tested_and_has_a_runbook(helm: str) -> None:
    names = [r["alert"] for r in alerts(alert_rules(helm))]
    assert len(names) == len(set(names)) == 10, names
    tested = {
        t["alertname"] for case in yaml.safe_load(PROMTOOL_TESTS.read_text())["tests"] for t in case["alert_rule_test"]
    }
    assert tested == set(names)
    headings = set(re.findall(r"^## (\w+)$", RUNBOOKS.read_text(), re.M))
    assert set(names) <= headings, f"alerts without a runbook in {RUNBOOKS.relative_to(ROOT)}: {set(names) - headings}"


def test_alert_labels_and_runbook_links(helm: str) -> None:
    rules = alert_rules(
        helm,
        "metrics.prometheusRule.alertLabels.team=web",
        "metrics.prometheusRule.runbookBaseUrl=https://docs.example/operations/alerts/",
    )
    for rule in alerts(rules):
        assert rule["labels"]["team"] == "web" and rule["labels"]["severity"] in ("critical", "warning"), rule
        url = f"https://docs.example/operations/alerts/#{rule['alert'].lower()}"
        assert rule["annotations"]["runbook_url"] == url
    assert all("runbook_url" not in r["annotations"] for r in alerts(alert_rules(helm)))


@pytest.mark.parametrize(
    "bad",
    [
        "metrics.prometheusRule.for.zoneLost=soon",
        "metrics.prometheusRule.spofAfterSeconds=-1",
        "metrics.prometheusRule.reconcileErrorRatio=2",
        "metrics.prometheusRule.alertLabels.severity=info",
        "metrics.prometheusRule.runbookBaseUrl=docs",
        "metrics.prometheusRule.minOperatorZones=0",
    ],
)
def test_schema_rejects_bad_rule_values(helm: str, bad: str) -> None:
    result = run(helm, "template", "spofless", str(ROOT / "manifests"), "--set", bad, check=False)
    assert result.returncode != 0, f"--set {bad} was accepted"
    assert "schema" in result.stderr, result.stderr
