"""Session set-up for the e2e suite: the CRD, the operator, one namespace per test.

Runs unchanged against whatever KUBECONFIG points to. The operator runs as a subprocess of
the suite, unless SPOFLESS_E2E_OPERATOR=external says one already runs (in-cluster on kind).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import urllib.request
import uuid
from collections.abc import Generator, Iterator
from pathlib import Path
from typing import Any

import pytest

from . import faults
from .cluster import apply, get, kubectl, service_account_kubeconfig, wait_established, wait_for
from .faults import KIND, zone_nodes
from .ports import free_port

ROOT = Path(__file__).resolve().parents[2]
LOGS = Path(os.environ.get("SPOFLESS_E2E_LOGS", "/tmp/spofless-e2e"))
EXTERNAL = os.environ.get("SPOFLESS_E2E_OPERATOR") == "external"  # the operator runs in the cluster


def needs_kwok(what: str) -> pytest.MarkDecorator:
    """Skips a scenario built on a KWOK feature when the suite runs on kind, saying which one."""
    return pytest.mark.skipif(KIND, reason=f"needs KWOK ({what}), which kind has not")


pytestmark = pytest.mark.e2e


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "tests/e2e" in str(item.fspath):
            item.add_marker(pytest.mark.e2e)


class Operator:
    """The operator as a child process, killable and restartable like a pod. With
    SPOFLESS_E2E_SERVICE_ACCOUNT=namespace/name it runs as that ServiceAccount."""

    kubeconfig: Path | None = None  # shared by every operator process of the session

    def __init__(self, log_dir: Path) -> None:
        self.log_dir = log_dir
        self.proc: subprocess.Popen[bytes] | None = None
        self.starts = 0
        self.liveness = ""
        # /metrics on one port for the life of the object, so a Prometheus scraping it follows restarts.
        self.metrics_port = free_port()

    def start(self, *extra: str) -> None:
        self.liveness = f"http://127.0.0.1:{free_port()}/healthz"
        extra = ("--liveness", self.liveness, *extra)
        self.starts += 1
        log = (self.log_dir / f"operator-{self.starts}.log").open("wb")
        cmd = [sys.executable, "-m", "spofless", "run", "--log-format", "full", "--metrics-port", str(self.metrics_port),
               *extra]  # fmt: skip
        env = {**os.environ, **({"KUBECONFIG": str(self.kubeconfig)} if self.kubeconfig else {})}
        self.proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, cwd=ROOT, env=env)

    def answers(self) -> bool:
        """The liveness endpoint says 200 (the process is up and no reconcile is wedged)."""
        assert self.proc is not None and self.proc.poll() is None, f"the operator exited:\n{self.log_tail()}"
        try:
            with urllib.request.urlopen(self.liveness, timeout=2) as reply:
                return bool(reply.status == 200)
        except OSError:
            return False

    def wait_alive(self, timeout: float = 60) -> None:
        """Until the liveness endpoint answers: kopf has logged in and started its watches."""
        wait_for("the operator's liveness endpoint", self.answers, timeout)

    def kill(self, sig: int = signal.SIGKILL) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(sig)
            self.proc.wait(timeout=30)

    def log_tail(self, lines: int = 60) -> str:
        path = self.log_dir / f"operator-{self.starts}.log"
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:]) if path.exists() else ""


@pytest.fixture(scope="session")
def crd() -> None:
    kubectl("apply", "--server-side", "--force-conflicts", "-f", str(ROOT / "crds"))
    wait_established("resilientsites.spofless.dev")


@pytest.fixture(scope="session")
def operator(crd: None) -> Iterator[Operator | None]:
    if EXTERNAL:
        yield None
        return
    LOGS.mkdir(parents=True, exist_ok=True)
    if account := os.environ.get("SPOFLESS_E2E_SERVICE_ACCOUNT"):
        Operator.kubeconfig = service_account_kubeconfig(account, LOGS / "operator-kubeconfig.json")
    op = Operator(LOGS)
    try:
        op.start("--standalone")
        op.wait_alive()
        yield op
    finally:
        op.kill(signal.SIGTERM)


@pytest.fixture
def own_operator(operator: Operator | None) -> Operator:
    """The suite's own operator process, for scenarios that kill or stop it. Skipped when the
    operator runs in the cluster: test_zone_outage_traffic.py kills its active pod there."""
    if operator is None:
        pytest.skip(
            "kills the operator process the suite runs, and here it runs in the cluster "
            "(SPOFLESS_E2E_OPERATOR=external); test_zone_outage_traffic.py kills its pod instead"
        )
    return operator


@pytest.fixture
def ns(operator: Operator | None, request: pytest.FixtureRequest) -> Iterator[str]:
    name = f"e2e-{request.node.name[5:30].replace('_', '-').strip('-').lower()}-{uuid.uuid4().hex[:5]}"
    kubectl("create", "namespace", name)
    try:
        yield name
    finally:
        failed = getattr(request.node, "rep_call", None)
        if failed is not None and failed.failed:
            print(f"--- what the cluster showed ---\n{cluster_state(name)}")
            if operator is not None:
                print(f"--- operator log tail ---\n{operator.log_tail()}")
        kubectl("delete", "namespace", name, "--wait=false", check=False)


def cluster_state(namespace: str) -> str:
    """What a failed scenario left, to tell the product's part from the cluster's: the nodes (Ready,
    taints), the namespace's pods (node, phase, Ready and why), each site's status, the last events."""
    lines = []
    try:
        for n in get("nodes"):
            taints = [f"{t['key']}:{t['effect']}" for t in (n.get("spec") or {}).get("taints") or []]
            lines.append(f"node {n['metadata']['name']}: ready={faults.node_ready(n)} taints={taints}")
        for p in get("pods", namespace=namespace):
            ready: dict[str, Any] = next((c for c in p["status"].get("conditions") or [] if c["type"] == "Ready"), {})
            lines.append(f"pod {p['metadata']['name']} on {p['spec'].get('nodeName') or '-'}: {p['status'].get('phase')}"
                         f" ready={ready.get('status')} {ready.get('reason') or ''} since {ready.get('lastTransitionTime')}")  # fmt: skip
        for site in get("resilientsites", namespace=namespace):
            st = site.get("status") or {}
            lines.append(f"site {site['metadata']['name']}: {st.get('phase')} ready={st.get('readyReplicas')} "
                         f"{st.get('message')} zones={[(z['name'], z.get('readyReplicas'), z.get('cause')) for z in st.get('zones') or []]}")  # fmt: skip
        events = sorted(get("events", namespace=namespace), key=lambda e: e.get("lastTimestamp") or "")[-15:]
        lines += [
            f"event {e.get('lastTimestamp')} {e['involvedObject']['name']} {e['reason']}: {e.get('message')}"
            for e in events
        ]
    except Exception as err:  # a failing cluster must not hide the test's own failure
        lines.append(f"(could not read the cluster: {err})")
        lines += faults.apiserver_log_tail()
    return "\n".join(lines)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    report = yield
    setattr(item, f"rep_{report.when}", report)
    return report


def zones() -> list[str]:
    return sorted(
        {
            n["metadata"]["labels"]["topology.kubernetes.io/zone"]
            for n in get("nodes", selector="topology.kubernetes.io/zone")
        }
    )


@pytest.fixture
def healthy_nodes() -> Iterator[None]:
    """Every node Ready and schedulable before and after the test, whatever the test broke."""

    def heal() -> None:
        faults.restore_all()
        kubectl("uncordon", "--selector", "topology.kubernetes.io/zone", check=False)
        wait_for("every node Ready", lambda: all(faults.node_ready(n) for n in get("nodes")), timeout=90)
        # The node controller lifts its not-ready and unreachable taints a moment after Ready: a pod
        # made before that waits on them, and the next scenario would start on a zone still out.
        wait_for("no node tainted by the node controller", lambda: not faults.tainted_by_node_controller(), timeout=90)

    heal()
    yield
    heal()


__all__ = ["KIND", "apply", "zone_nodes", "zones"]
