"""The chart rendered by the pinned helm, for the chart tests and the e2e suite's real Prometheus.

hack/test.sh builds helm and sets $HELM (`source hack/lib/tools.sh; build_helm; helm_bin` builds it by hand).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
CHART = ROOT / "manifests"
NAMESPACE = "spofless-system"


def tool(variable: str, name: str, how: str) -> str:
    """The executable in $variable, else `name` on PATH; the test fails, saying how to get it, without one."""
    path = os.environ.get(variable, "") or shutil.which(name) or ""
    if not path:
        pytest.fail(f"{name} is needed: set {variable} or put it on PATH ({how})", pytrace=False)
    if not (Path(path).is_file() and os.access(path, os.X_OK)):
        pytest.fail(f"{variable}={path} is not an executable file", pytrace=False)
    return path


def helm_binary() -> str:
    path = os.environ.get("HELM", "")
    if not path:
        pytest.fail("HELM is not set: point it at a helm v3 binary (hack/test.sh builds and sets it)", pytrace=False)
    return tool("HELM", "helm", "hack/test.sh builds it")


def run(
    *cmd: str, check: bool = True, env: dict[str, str] | None = None, stdin: str | None = None, cwd: Path = ROOT
) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(cmd, input=stdin, capture_output=True, text=True, cwd=cwd, env=env, timeout=300)
    if check and result.returncode != 0:
        pytest.fail(f"{' '.join(cmd)} exited {result.returncode}:\n{result.stdout}\n{result.stderr}", pytrace=False)
    return result


def docs(text: str) -> list[dict[str, Any]]:
    return [d for d in yaml.safe_load_all(text) if d]


def template(helm: str, *args: str) -> list[dict[str, Any]]:
    return docs(run(helm, "template", "spofless", str(CHART), "--namespace", NAMESPACE, *args).stdout)


def only(objects: list[dict[str, Any]], kind: str) -> dict[str, Any]:
    found = [o for o in objects if o["kind"] == kind]
    assert len(found) == 1, f"expected one {kind}, got {[o['metadata']['name'] for o in found]}"
    return found[0]


def alert_rules(helm: str, *sets: str) -> dict[str, Any]:
    """The chart's PrometheusRule as a Prometheus rule file ({groups: ...}), with `--set` values."""
    flags = [f for s in ("metrics.prometheusRule.enabled=true", *sets) for f in ("--set", s)]
    return {"groups": only(template(helm, *flags), "PrometheusRule")["spec"]["groups"]}


DASHBOARD = CHART / "dashboards" / "spofless.json"
# Grafana's variables, as a Prometheus without Grafana reads them: every namespace and job, one minute.
GRAFANA_VARIABLES = {"$__rate_interval": "1m", "$__interval": "1m", "$namespace": ".*", "$job": ".*"}


def dashboard_queries() -> list[tuple[str, str]]:
    """(panel title, PromQL) for every query of the dashboard, Grafana's variables filled in."""
    panels = json.loads(DASHBOARD.read_text())["panels"]
    out = []
    for panel in panels:
        for target in panel.get("targets", []):
            expr = target["expr"]
            for variable, value in GRAFANA_VARIABLES.items():
                expr = expr.replace(variable, value)
            out.append((panel["title"], expr))
    return out


def metric_names(expr: str) -> set[str]:
    """The metrics a query reads: spofless's own and the client library's process_* ones."""
    return set(re.findall(r"\b((?:spofless|process|python)_[a-zA-Z0-9_]+)", expr))
