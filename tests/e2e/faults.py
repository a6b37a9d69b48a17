"""The e2e suite's one fault seam: lose or restore a zone, a node or the API server, on either ground.

- On the local cluster (KWOK), a node is lost through KWOK's node-not-ready chaos stage: the node
  turns NotReady at once, its pods with it. The API server is a local process that
  hack/cluster.sh stops and starts.
- On kind, a node is lost by pausing its container (`docker pause`: every process, the kubelet
  included, stops at once, as in a power cut); `docker unpause` brings the same node back. The
  node controller then notices only after its grace period (50 s by default), and the operator's
  active replica may have been in the lost zone: the standby takes over meanwhile. NOTICE_S is
  that extra time, for the scenarios' waits. The API server is a static pod: its manifest is moved
  out of the kubelet's manifest directory and back.

A scenario loses what it means to lose, and the seam picks the means; no scenario names a chaos
label or a container.
"""

from __future__ import annotations

import functools
import os
import subprocess
import time
from pathlib import Path

from .cluster import KUBECTL, get, kubectl, wait_for

KIND = os.environ.get("SPOFLESS_E2E_KIND") == "1"  # hack/kind-e2e.sh: real nodes, no KWOK
LOCAL = os.environ.get("SPOFLESS_E2E_LOCAL_CLUSTER") == "1"  # hack/test.sh: hack/cluster.sh's cluster
KIND_CLUSTER = os.environ.get("SPOFLESS_KIND_CLUSTER", "spofless-kind")
CHAOS_LABEL = "node-not-ready.stage.kwok.x-k8s.io"
SILENT_LABEL = "spofless.dev/silent"  # kwok stops playing these nodes' kubelets (hack/kwok/kwokctl.yaml)
ZONE_KEY = "topology.kubernetes.io/zone"
CLUSTER_SH = Path(__file__).resolve().parents[2] / "hack" / "cluster.sh"
# kind: a paused node is NotReady after node-monitor-grace-period (50 s unless SPOFLESS_NODE_GRACE
# tunes it), checked every 5 s, and an operator replica paused with it hands over within its
# leader Lease (15 s) meanwhile. KWOK's stage acts at once.
NOTICE_S = 75.0 if KIND else 0.0
# Whether the API server can be stopped and started again here.
CAN_STOP_APISERVER = KIND or LOCAL
NEEDS_APISERVER_CONTROL = "needs control of kube-apiserver: hack/cluster.sh's cluster or kind"


OPERATOR_NAMESPACE = "spofless-system"  # where the chart runs the operator on kind


def operator_zones() -> dict[str, str]:
    """Operator pod name -> zone of its node (kind: the chart's replicas; elsewhere none)."""
    zones = {
        n["metadata"]["name"]: n["metadata"]["labels"].get("topology.kubernetes.io/zone", "") for n in get("nodes")
    }
    pods = get("pods", namespace=OPERATOR_NAMESPACE, selector="app.kubernetes.io/component=operator")
    return {p["metadata"]["name"]: zones.get(p["spec"].get("nodeName", ""), "") for p in pods}


def zone_nodes(zone: str) -> list[str]:
    return sorted(n["metadata"]["name"] for n in get("nodes", selector=f"{ZONE_KEY}={zone}"))


def lose_zone(*zones: str) -> float:
    """Every node of the zones lost at once; returns when (time.monotonic())."""
    started = time.monotonic()
    for zone in zones:
        if KIND:
            _set_paused(zone_nodes(zone), True)
        else:
            kubectl("label", "nodes", "-l", f"{ZONE_KEY}={zone}", f"{CHAOS_LABEL}=true", "--overwrite")
    return started


def silence_zone(*zones: str) -> float:
    """Every node of the zones silent at once: no Lease renewed, no status written, while the nodes
    still say Ready until the node controller's grace runs out (a cut network, a power loss). On the
    local cluster kwok stops playing their kubelets (hack/kwok/kwokctl.yaml); on kind a paused node
    container is exactly that. Returns when (time.monotonic())."""
    started = time.monotonic()
    if KIND:
        _set_paused([n for zone in zones for n in zone_nodes(zone)], True)
    else:  # one command for every zone: zones silenced together stop within the same moment
        kubectl("label", "nodes", "-l", _in_zones(zones), f"{SILENT_LABEL}=true", "--overwrite")
    return started


def restore_zone(*zones: str) -> None:
    if KIND:
        _set_paused([n for zone in zones for n in zone_nodes(zone)], False)
    else:
        kubectl("label", "nodes", "-l", _in_zones(zones), f"{CHAOS_LABEL}-", f"{SILENT_LABEL}-")


def _in_zones(zones: tuple[str, ...]) -> str:
    return f"{ZONE_KEY} in ({','.join(zones)})"


def lose_node(name: str) -> float:
    started = time.monotonic()
    if KIND:
        _set_paused([name], True)
    else:
        kubectl("label", "node", name, f"{CHAOS_LABEL}=true", "--overwrite")
    return started


def restore_node(name: str) -> None:
    if KIND:
        _set_paused([name], False)
    else:
        kubectl("label", "node", name, f"{CHAOS_LABEL}-")


def restore_all() -> None:
    """Every node back, whatever a scenario lost (safe to call when nothing was)."""
    if KIND:
        paused = subprocess.run(
            ["docker", "ps", "-q", "--filter", f"label=io.x-k8s.kind.cluster={KIND_CLUSTER}", "--filter", "status=paused"],
            check=True, capture_output=True, text=True,
        ).stdout.split()  # fmt: skip
        _set_paused(paused, False)
    else:
        kubectl("label", "nodes", "--all", f"{CHAOS_LABEL}-", f"{SILENT_LABEL}-", check=False)


def tainted_by_node_controller() -> list[str]:
    """Nodes still carrying the node controller's not-ready or unreachable taints."""
    kinds = ("node.kubernetes.io/not-ready", "node.kubernetes.io/unreachable")
    return [n["metadata"]["name"] for n in get("nodes")
            if any(t.get("key") in kinds for t in (n.get("spec") or {}).get("taints") or [])]  # fmt: skip


def node_ready(node: dict[str, object]) -> bool:
    conditions = (node.get("status") or {}).get("conditions", [])  # type: ignore[attr-defined]
    return any(c["type"] == "Ready" and c["status"] == "True" for c in conditions)


def wait_not_ready(*zones: str, timeout: float = 60) -> None:
    """Until every node of the zones is NotReady: what the cluster itself has noticed."""

    def all_down() -> bool:
        return not any(node_ready(n) for z in zones for n in get("nodes", selector=f"{ZONE_KEY}={z}"))

    wait_for(f"every node of {', '.join(zones)} NotReady", all_down, timeout + NOTICE_S)


def stop_apiserver() -> None:
    """kube-apiserver down until start_apiserver(); returns once it no longer answers."""
    if KIND:
        _control_plane("mv", "/etc/kubernetes/manifests/kube-apiserver.yaml", "/etc/kubernetes/kube-apiserver.yaml")
        wait_for("kube-apiserver down", lambda: not _apiserver_answers(), timeout=120)
    else:
        _cluster_sh("stop", "kube-apiserver")


def start_apiserver(controllers_too: bool = False) -> None:
    """kube-apiserver back; returns once it answers. `controllers_too` restarts the controller-manager
    and the scheduler with it on the local cluster: their client-go backoff grows with each outage
    and would otherwise dominate a scenario's timing (kind's static pods reconnect by themselves)."""
    if KIND:
        _control_plane("mv", "/etc/kubernetes/kube-apiserver.yaml", "/etc/kubernetes/manifests/kube-apiserver.yaml")
    else:
        if controllers_too:
            _cluster_sh("stop", "kube-controller-manager", "kube-scheduler")
        _cluster_sh("start")
    wait_for("kube-apiserver back", _apiserver_answers, timeout=180)


def _cluster_sh(*args: str) -> None:
    """hack/cluster.sh ARGS; a failure says what the script said (kwokctl's own error among it)."""
    done = subprocess.run([str(CLUSTER_SH), *args], capture_output=True, text=True)
    if done.returncode != 0:
        said = (done.stdout + done.stderr).strip().splitlines()[-20:] + apiserver_log_tail()
        raise AssertionError(f"hack/cluster.sh {' '.join(args)} failed (exit {done.returncode}):\n" + "\n".join(said))


def apiserver_log_tail(lines: int = 15) -> list[str]:
    """On the local cluster, kube-apiserver's own last lines: why it does not answer, or did not start."""
    log = Path(os.environ.get("KUBECONFIG", "")).parent / "logs" / "kube-apiserver.log"
    if KIND or not log.is_file():
        return []
    return [f"--- {log} (tail) ---", *log.read_text(errors="replace").splitlines()[-lines:]]


def apiserver_down() -> bool:
    return not _apiserver_answers()


def _apiserver_answers() -> bool:
    try:
        return subprocess.run([KUBECTL, "get", "--raw", "/readyz"], capture_output=True, timeout=10).returncode == 0
    except subprocess.TimeoutExpired:
        return False


def _control_plane(*cmd: str) -> None:
    _docker("exec", f"{KIND_CLUSTER}-control-plane", *cmd)


def _docker(*args: str) -> None:
    done = subprocess.run(["docker", *args], capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"docker {' '.join(args)} failed (exit {done.returncode}): {done.stderr.strip()}")


def _set_paused(containers: list[str], paused: bool) -> None:
    """Pauses (or unpauses) node containers until Docker says they are. runc freezes a container's
    cgroup and, on cgroup v1, gives up when a process does not freeze in time (a node's systemd
    busy forking): seen once in CI as `docker pause` exiting 1. So the state is checked, and the
    command tried again, until it holds or the timeout says why not."""
    verb = "pause" if paused else "unpause"
    errors: list[str] = []

    def settled(name: str) -> bool:
        state = subprocess.run(
            ["docker", "inspect", "-f", "{{.State.Paused}}", name], capture_output=True, text=True, check=True
        ).stdout.strip()
        if state == str(paused).lower():
            return True
        done = subprocess.run(["docker", verb, name], capture_output=True, text=True)
        if done.returncode != 0:
            errors.append(done.stderr.strip())
        return False

    for name in containers:
        try:
            wait_for(f"docker {verb} {name}", functools.partial(settled, name), timeout=60)
        except AssertionError as err:
            raise AssertionError(f"{err}; docker said: {errors[-3:]}") from err
