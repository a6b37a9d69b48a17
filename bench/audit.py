"""How long `spofless audit -A` takes, and how much memory, on a cluster with many workloads.

Against the cluster in KUBECONFIG (hack/cluster.sh up --nodes-per-zone 10 gives room for the pods):
creates --workloads workloads (Deployments, StatefulSets and ReplicaSets without an owner, 1 to 3
replicas, some pinned to one zone or one node), a Service for every other one and a budget for every
fifth, waits until their pods are Ready, then runs the audit --runs times, each in a fresh process.
Prints the medians and writes JSON next to the other results (bench/results/, not committed).

    .venv/bin/python bench/audit.py --workloads 1000 --runs 5
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[1]
ZONE_KEY = "topology.kubernetes.io/zone"
PREFIX = f"bench-audit-{time.strftime('%H%M%S')}-"  # this run's namespaces (an earlier run's may still be going)
# Runs one audit in this process and reports its own peak RSS: what a user's shell would see.
PROBE = (
    "import resource, sys; from spofless.cli import main; rc = main(sys.argv[1:]); "
    "print('maxrss_kb', resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, file=sys.stderr); sys.exit(rc)"
)


def log(message: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def kubectl(*args: str, stdin: str | None = None) -> str:
    return subprocess.run(["kubectl", *args], input=stdin, capture_output=True, text=True, check=True).stdout


def objects(i: int, ns: str, zones: list[str]) -> list[dict[str, Any]]:
    """Workload number i: its kind, replicas and placement cycle, so every kind of finding occurs."""
    name, kind = f"w{i:04d}", ("Deployment", "Deployment", "Deployment", "StatefulSet", "ReplicaSet")[i % 5]
    replicas = 1 + i % 3
    labels = {"app": name}
    spec: dict[str, Any] = {"containers": [{"name": "c", "image": "busybox:1.36"}]}
    if i % 7 == 0:
        spec["nodeSelector"] = {ZONE_KEY: zones[i % len(zones)]}  # all in one zone
    else:
        spec["topologySpreadConstraints"] = [
            {"maxSkew": 1, "topologyKey": ZONE_KEY, "whenUnsatisfiable": "ScheduleAnyway",
             "labelSelector": {"matchLabels": labels}}
        ]  # fmt: skip
    workload: dict[str, Any] = {
        "apiVersion": "apps/v1", "kind": kind, "metadata": {"name": name, "namespace": ns, "labels": labels},
        "spec": {"replicas": replicas, "selector": {"matchLabels": labels},
                 "template": {"metadata": {"labels": labels}, "spec": spec}},
    }  # fmt: skip
    if kind == "StatefulSet":
        workload["spec"] |= {"serviceName": name, "podManagementPolicy": "Parallel"}
    out = [workload]
    if i % 2 == 0:
        out.append({"apiVersion": "v1", "kind": "Service", "metadata": {"name": name, "namespace": ns},
                    "spec": {"selector": labels, "ports": [{"port": 80}]}})  # fmt: skip
    if i % 5 == 0:
        out.append({"apiVersion": "policy/v1", "kind": "PodDisruptionBudget", "metadata": {"name": name, "namespace": ns},
                    "spec": {"maxUnavailable": i % 2, "selector": {"matchLabels": labels}}})  # fmt: skip
    return out


def create(count: int, namespaces: int) -> int:
    """Creates the workloads; returns how many pods they ask for."""
    nodes = json.loads(kubectl("get", "nodes", "-o", "json"))["items"]
    zones = sorted({n["metadata"]["labels"].get(ZONE_KEY, "") for n in nodes} - {""})
    pods = 0
    for n in range(namespaces):
        ns = f"{PREFIX}{n}"
        kubectl("create", "namespace", ns)
        docs = [o for i in range(n, count, namespaces) for o in objects(i, ns, zones)]
        pods += sum(d["spec"]["replicas"] for d in docs if d["kind"] in ("Deployment", "StatefulSet", "ReplicaSet"))
        kubectl("apply", "--server-side", "-f", "-", stdin=yaml.safe_dump_all(docs))
        log(f"namespace {ns}: {len(docs)} objects")
    return pods


def ready_pods() -> int:
    out = kubectl("get", "pods", "-A", "-l", "app", "--no-headers",
                  "-o", "custom-columns=NS:.metadata.namespace,R:.status.conditions[?(@.type=='Ready')].status")  # fmt: skip
    rows = [line.split() for line in out.splitlines()]
    return sum(1 for row in rows if len(row) == 2 and row[0].startswith(PREFIX) and row[1] == "True")


def floor_once() -> float:
    """The floor: kubectl listing the same kinds in every namespace as JSON, nothing judged."""
    started = time.monotonic()
    kinds = "nodes,pods,deployments,statefulsets,replicasets,poddisruptionbudgets,services,endpointslices"
    subprocess.run(["kubectl", "get", kinds, "-A", "-o", "json"], capture_output=True, check=True)
    return time.monotonic() - started


def audit_once() -> tuple[float, int, dict[str, Any]]:
    started = time.monotonic()
    cmd = [sys.executable, "-c", PROBE, "audit", "-A", "-o", "json", "--fail-on", "never"]
    done = subprocess.run(cmd, capture_output=True, text=True, check=True, cwd=ROOT)
    seconds = time.monotonic() - started
    rss_kb = int(next(line.split()[1] for line in done.stderr.splitlines() if line.startswith("maxrss_kb")))
    return seconds, rss_kb, json.loads(done.stdout)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--workloads", type=int, default=1000)
    parser.add_argument("--namespaces", type=int, default=10)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--keep", action="store_true", help="keep the namespaces (default: delete them)")
    args = parser.parse_args()
    started = time.monotonic()
    want = create(args.workloads, args.namespaces)
    log(f"{args.workloads} workloads asking for {want} pods; waiting for them to be Ready")
    deadline = time.monotonic() + 900
    while (have := ready_pods()) < want and time.monotonic() < deadline:
        log(f"{have}/{want} pods Ready")
        time.sleep(10)
    log(f"{have}/{want} pods Ready after {time.monotonic() - started:.0f} s")
    runs = []
    for run in range(args.runs):
        seconds, rss_kb, report = audit_once()
        floor = floor_once()
        runs.append(
            {"seconds": round(seconds, 3), "max_rss_mb": round(rss_kb / 1024, 1), "floor_seconds": round(floor, 3)}
        )
        log(
            f"run {run + 1}: {seconds:.2f} s, peak RSS {rss_kb / 1024:.1f} MB; kubectl get of the same lists {floor:.2f} s"
        )
    audited = [w for w in report["workloads"] if w["namespace"].startswith(PREFIX)]
    result = {
        "when": time.strftime("%Y-%m-%dT%H:%M:%S"),
        "machine": f"{os.cpu_count()} cores, Python {platform.python_version()}",
        "workloads_audited": len(audited),
        "workloads_in_report": len(report["workloads"]),
        "ready_pods": have,
        "services": len(report["services"]),
        "budgets": len(report["budgets"]),
        "findings": report["summary"],
        "runs": runs,
        "median_seconds": statistics.median(r["seconds"] for r in runs),
        "median_max_rss_mb": statistics.median(r["max_rss_mb"] for r in runs),
        "median_floor_seconds": statistics.median(r["floor_seconds"] for r in runs),
    }
    out = ROOT / "bench" / "results" / f"audit-{time.strftime('%Y%m%d-%H%M%S')}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2))
    print(json.dumps(result, indent=2))
    if not args.keep:
        for n in range(args.namespaces):
            kubectl("delete", "namespace", f"{PREFIX}{n}", "--wait=false")
    return 0


if __name__ == "__main__":
    sys.exit(main())
