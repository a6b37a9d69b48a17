"""A real Prometheus (Debian's binary; hack/test.sh installs it) as a local process scraping the suite's
operator every second and evaluating the chart's alerting rules every second."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any

import yaml

from .cluster import wait_for
from .ports import free_port


class Prometheus:
    def __init__(self, binary: str, workdir: Path, target: str, rules: dict[str, Any]) -> None:
        self.url = f"http://127.0.0.1:{free_port()}"
        workdir.mkdir(parents=True, exist_ok=True)
        shutil.rmtree(workdir / "data", ignore_errors=True)
        (workdir / "rules.yaml").write_text(yaml.safe_dump(rules))
        config = {
            "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
            "rule_files": [str(workdir / "rules.yaml")],
            "scrape_configs": [{"job_name": "spofless", "static_configs": [{"targets": [target]}]}],
        }
        (workdir / "prometheus.yml").write_text(yaml.safe_dump(config))
        self.log = workdir / "prometheus.log"
        cmd = [
            binary,
            f"--config.file={workdir / 'prometheus.yml'}",
            f"--storage.tsdb.path={workdir / 'data'}",
            f"--web.listen-address={self.url.removeprefix('http://')}",
        ]
        with self.log.open("wb") as log:
            self.proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT)
        wait_for("Prometheus ready", self._ready, timeout=60)
        wait_for(f"Prometheus scraping {target}", self._target_up, timeout=60)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(timeout=30)

    def api(self, path: str, **params: str) -> Any:
        """The `data` of a /api/v1 answer; raises with Prometheus' own error when it refuses."""
        url = f"{self.url}/api/v1/{path}?{urllib.parse.urlencode(params)}"
        try:
            with urllib.request.urlopen(url, timeout=10) as reply:
                body = json.load(reply)
        except urllib.error.HTTPError as err:
            body = json.load(err)
        if body.get("status") != "success":
            raise ValueError(f"{path} {params}: {body.get('errorType')}: {body.get('error')}")
        return body["data"]

    def query(self, expr: str) -> list[dict[str, Any]]:
        return list(self.api("query", query=expr)["result"])

    def alerts(self, name: str, state: str = "firing", **labels: str) -> list[dict[str, Any]]:
        """The active alerts named `name` in `state` whose labels include `labels`."""
        return [
            a
            for a in self.api("alerts")["alerts"]
            if a["labels"].get("alertname") == name and a["state"] == state and labels.items() <= a["labels"].items()
        ]

    def log_tail(self, lines: int = 30) -> str:
        return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])

    def _ready(self) -> bool:
        assert self.proc.poll() is None, f"prometheus exited:\n{self.log_tail()}"
        try:
            with urllib.request.urlopen(f"{self.url}/-/ready", timeout=2) as reply:
                return bool(reply.status == 200)
        except OSError:
            return False

    def _target_up(self) -> bool:
        return any(t["health"] == "up" for t in self.api("targets")["activeTargets"])


def binary() -> str | None:
    return os.environ.get("PROMETHEUS") or shutil.which("prometheus")
