"""Requests through a zone outage on a kind cluster, measured from a client inside the cluster.

Shared by tests/e2e/test_zone_outage_traffic.py (which asserts bounds) and bench/zone_outage.py
(which reports the figures). Needs real nodes and containers: hack/kind-e2e.sh sets the environment.
A zone dies through the suite's fault seam (faults.py): on kind its node containers are paused
(every process, kubelet included, stops at once, as in a power cut), and unpaused to bring the same
nodes back.
"""

from __future__ import annotations

import json
import os
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from .cluster import apply, get, kubectl, status, wait_for
from .faults import KIND as KIND
from .faults import OPERATOR_NAMESPACE, ZONE_KEY, lose_zone, node_ready, restore_zone, zone_nodes
from .sites import ready_endpoints_in

NEEDS_KIND = "needs real containers and nodes that really die: runs on kind (hack/kind-e2e.sh)"
SITE_IMAGE = os.environ.get("SPOFLESS_E2E_SITE_IMAGE", "")
TRAFFIC_IMAGE = os.environ.get("SPOFLESS_E2E_TRAFFIC_IMAGE", "")
INTERVAL = 0.1  # seconds between two requests
TIMEOUT = 1.0  # a request not answered within this counts as failed


def site_manifest(
    name: str, namespace: str, replicas: int = 6, traffic_distribution: str | None = None
) -> dict[str, Any]:
    """A site of the test HTTP server over every zone, behind a ClusterIP Service (with the zone
    preference `traffic_distribution`, which spofless sets while the zones are balanced)."""
    env = [
        {"name": "POD_NAME", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}},
        {"name": "NODE_NAME", "valueFrom": {"fieldRef": {"fieldPath": "spec.nodeName"}}},
        {"name": "ZONE", "valueFrom": {"fieldRef": {"fieldPath": "metadata.labels['spofless.dev/zone']"}}},
    ]
    probe = {"httpGet": {"path": "/healthz", "port": "http"}, "periodSeconds": 2, "failureThreshold": 2}
    container = {
        "name": "web",
        "image": SITE_IMAGE,
        "ports": [{"containerPort": 8080, "name": "http"}],
        "env": env,
        "readinessProbe": probe,
        "resources": {"requests": {"cpu": "10m", "memory": "24Mi"}},
    }
    return {
        "apiVersion": "spofless.dev/v1alpha1",
        "kind": "ResilientSite",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {
            "replicas": replicas,
            "minZones": 2,
            "template": {"metadata": {"labels": {"app": name}}, "spec": {"containers": [container]}},
            "service": {
                "type": "ClusterIP",
                "ports": [{"name": "http", "port": 80, "targetPort": "http"}],
                **({"trafficDistribution": traffic_distribution} if traffic_distribution else {}),
            },
            "failover": {"enabled": True, "failbackAfterSeconds": 20},
        },
    }


def start_client(namespace: str, url: str, seconds: float, retries: int = 0, zone: str = "") -> str:
    """A client pod sending a request every INTERVAL for at most `seconds`: on the control-plane node
    (in no zone, so it outlives any zone, and kube-proxy there ignores zone hints), or on a node of
    `zone` (where kube-proxy follows the Service's zone preference). Returns its name once its first
    answer is logged."""
    name = f"client-r{retries}" + (f"-{zone}" if zone else "")
    placement: dict[str, Any] = (
        {"nodeSelector": {ZONE_KEY: zone}}
        if zone
        else {
            "nodeSelector": {"node-role.kubernetes.io/control-plane": ""},
            "tolerations": [{"key": "node-role.kubernetes.io/control-plane", "operator": "Exists"}],
        }
    )
    apply({
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {
            "restartPolicy": "Never",
            **placement,
            "containers": [{
                "name": "client",
                "image": TRAFFIC_IMAGE,
                "args": [url, f"--interval={INTERVAL}", f"--timeout={TIMEOUT}", f"--retries={retries}",
                         f"--duration={seconds}", f"--count={int(seconds / INTERVAL)}"],
            }],
        },
    })  # fmt: skip
    wait_for(f"client {name} answered", lambda: '"ok": true' in kubectl("logs", name, "-n", namespace), 120)
    return name


def records(namespace: str, client: str) -> list[dict[str, Any]]:
    lines = kubectl("logs", client, "-n", namespace).splitlines()
    return [r for r in map(json.loads, lines) if "t" in r]


def active_operator() -> str:
    """The replica that leads: the holder of the operator's Lease (its pod name)."""
    lease = get("lease", "spofless", OPERATOR_NAMESPACE) or {}
    return str((lease.get("spec") or {}).get("holderIdentity") or "")


def kill_operator(pod: str) -> None:
    """SIGKILL the operator's container (no release of the Lease), then force-delete its pod."""
    node = get("pod", pod, OPERATOR_NAMESPACE)["spec"]["nodeName"]
    ids = subprocess.run(
        ["docker", "exec", node, "ctr", "-n", "k8s.io", "containers", "ls", "-q",
         f'labels."io.kubernetes.pod.name"=={pod}', 'labels."io.kubernetes.container.name"==operator'],
        check=True, capture_output=True, text=True,
    ).stdout.split()  # fmt: skip
    for cid in ids:
        subprocess.run(["docker", "exec", node, "ctr", "-n", "k8s.io", "tasks", "kill", "-s", "SIGKILL", cid],
                       capture_output=True)  # fmt: skip
    kubectl("delete", "pod", pod, "-n", OPERATOR_NAMESPACE, "--grace-period=0", "--force", check=False)


def _zone(site: dict[str, Any], zone: str) -> dict[str, Any]:
    return next((z for z in site.get("zones", []) if z["name"] == zone), {})


def _node_ready(name: str) -> bool:
    return node_ready(get("node", name))


def first_seen(
    marks: dict[str, Callable[[], bool]], timeout: float, until: str = "", seen: dict[str, float] | None = None
) -> dict[str, float]:
    """Polls the probes not in `seen` until `until` has held (default: every one); returns when each
    was first seen to hold (unix s), `seen` included."""
    seen = dict(seen or {})

    def done() -> bool:
        for key, probe in marks.items():
            if key not in seen and probe():
                seen[key] = time.time()
        return until in seen if until else all(key in seen for key in marks)

    wait_for(until or " and ".join(marks), done, timeout)
    return seen


@dataclass
class Outage:
    """The timeline of one zone outage (unix seconds) and the client's requests through it."""

    zone: str
    replicas: int
    killed_operator: str = ""
    t: dict[str, float] = field(default_factory=dict)
    requests: dict[str, list[dict[str, Any]]] = field(default_factory=dict)  # by client

    def since_kill(self, mark: str) -> float:
        return round(self.t[mark] - self.t["kill"], 1)

    def since_return(self, mark: str) -> float:
        return round(self.t[mark] - self.t["return"], 1)

    def window(self, client: str, start: float, end: float) -> dict[str, Any]:
        """Requests started in [start, end): sent, failed and the longest stretch without an answer."""
        rs = [r for r in self.requests[client] if start <= r["t"] < end]
        gap, last_ok = 0.0, start
        for r in rs:
            if r["ok"]:
                done = r["t"] + r["ms"] / 1000
                gap, last_ok = max(gap, done - last_ok), done
        gap = max(gap, min(end, rs[-1]["t"] if rs else end) - last_ok)
        failures = [f"{r['t'] - self.t['kill']:+.1f}s {r.get('err', '')[:80]}" for r in rs if not r["ok"]]
        return {
            "sent": len(rs),
            "failed": len(failures),
            "longest_gap_s": round(gap, 2),
            "first_failures": failures[:3],  # when (from the kill) and why
        }

    def figures(self, client: str = "") -> dict[str, Any]:
        """The timeline, and what `client` (default: the first) saw through it."""
        client = client or next(iter(self.requests))
        return {
            "client": client,
            "zone": self.zone,
            "operator_killed": self.killed_operator or None,
            "endpoints_out_s": self.since_kill("endpoints_out"),
            "node_not_ready_s": self.since_kill("not_ready"),
            "zone_reported_lost_s": self.since_kill("lost"),
            "ready_capacity_back_s": self.since_kill("capacity"),
            "outage": self.window(client, self.t["kill"], self.t["return"]),
            "outage_after_not_ready_plus_15s": self.window(client, self.t["not_ready"] + 15, self.t["return"]),
            "return_node_ready_s": self.since_return("node_ready"),
            "return_zone_healthy_s": self.since_return("healthy"),
            "return_failed_back_s": self.since_return("failed_back"),
            "return": self.window(client, self.t["return"], self.t["end"]),
        }


def run_outage(
    namespace: str, site: str, zone: str, clients: list[str], kill_active_operator: bool = False, timeout: float = 300
) -> Outage:
    """Pauses `zone`'s nodes while the clients send requests; waits for the zone to be reported lost and
    the ready capacity to be back in the other zones, then unpauses them and waits for the failback."""
    nodes = zone_nodes(zone)
    replicas = get("resilientsite", site, namespace)["spec"]["replicas"]
    out = Outage(zone, replicas)
    time.sleep(5)  # a few seconds of steady traffic before: the baseline
    out.t["kill"] = time.time()
    lose_zone(zone)
    try:
        # Each timed as first seen: the silent-zone detector takes the zone's pods out of the Service
        # and starts the moves before the node controller marks its nodes NotReady (or after, without
        # the detector); the zone is reported lost at NotReady.
        def ready_outside() -> int:
            return sum(z.get("readyReplicas", 0) for z in status(site, namespace).get("zones", []) if z["name"] != zone)

        marks: dict[str, Callable[[], bool]] = {
            "endpoints_out": lambda: ready_endpoints_in(namespace, site, zone) == 0,
            "capacity": lambda: ready_outside() >= replicas,
            "not_ready": lambda: not any(_node_ready(n) for n in nodes),
        }
        out.t.update(first_seen(marks, timeout, until="not_ready"))
        if kill_active_operator:  # as the nodes turn NotReady: the standby carries on from there
            out.killed_operator = active_operator()
            kill_operator(out.killed_operator)
        marks["lost"] = lambda: _zone(status(site, namespace), zone).get("healthy") is False
        out.t.update(first_seen(marks, timeout, seen=out.t))
        # Traffic on the remaining zones alone: at least 20 s after the endpoints had 15 s to settle.
        time.sleep(max(10.0, out.t["not_ready"] + 35 - time.time()))
    finally:
        out.t["return"] = time.time()
        restore_zone(zone)
    wait_for(f"nodes of {zone} Ready again", lambda: all(_node_ready(n) for n in nodes), timeout)
    out.t["node_ready"] = time.time()
    wait_for(f"{zone} healthy again", lambda: _zone(status(site, namespace), zone).get("healthy") is True, timeout)
    out.t["healthy"] = time.time()

    def failed_back() -> bool:
        st = status(site, namespace)
        zone_ready = _zone(st, zone).get("readyReplicas", 0) > 0
        return zone_ready and st.get("phase") == "Redundant" and st.get("readyReplicas") == replicas

    wait_for(f"{site} back in {zone}", failed_back, timeout)
    out.t["failed_back"] = time.time()
    time.sleep(10)  # and traffic after it
    out.t["end"] = time.time()
    out.requests = {client: records(namespace, client) for client in clients}
    return out


def service_url(namespace: str, site: str) -> str:
    """The Service by its ClusterIP: DNS (CoreDNS may run in the zone that dies) stays out of the figures."""
    return f"http://{get('service', site, namespace)['spec']['clusterIP']}/"
