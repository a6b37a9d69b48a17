"""Requests through a zone outage and through an operator kill, on a kind cluster.

    hack/kind-e2e.sh --bench [--rounds N]                      Kubernetes' default node monitor grace
    SPOFLESS_NODE_GRACE=12s hack/kind-e2e.sh --bench [...]     a tuned grace
    SPOFLESS_NODE_LEASE=12s hack/kind-e2e.sh --bench [...]     shorter node Leases (renewed every 3 s)

Three clients inside the cluster send a request every 0.1 s to the site's Service (1 s timeout): two
on the control-plane node (in no zone), one without retries (r0), one that retries a failed request
once (r1), and one without retries on a node of a zone that survives (r0-zone-*), where kube-proxy
follows the site's `trafficDistribution: PreferSameZone` while spofless keeps it set.
One zone's node containers are paused (a power cut), then unpaused; the second scenario also kills
the active operator replica (SIGKILL) as the nodes turn NotReady. Prints one table per scenario and writes
the figures as JSON to bench/results/zone-outage-<grace>.json. Figures are medians over the rounds.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
import uuid
from pathlib import Path
from typing import Any

from tests.e2e.cluster import apply, kubectl  # run as `python -m bench.zone_outage` from the repo root
from tests.e2e.faults import operator_zones
from tests.e2e.sites import wait_phase
from tests.e2e.traffic import KIND, Outage, run_outage, service_url, site_manifest, start_client

ROOT = Path(__file__).resolve().parents[1]

ROWS = [
    ("zone's endpoints out of the Service after (s)", "endpoints_out_s"),
    ("node NotReady after (s)", "node_not_ready_s"),
    ("zone reported lost after (s)", "zone_reported_lost_s"),
    ("ready capacity back after (s)", "ready_capacity_back_s"),
    ("outage: requests sent", "outage.sent"),
    ("outage: requests failed", "outage.failed"),
    ("outage: longest stretch without an answer (s)", "outage.longest_gap_s"),
    ("after NotReady + 15 s: failed", "outage_after_not_ready_plus_15s.failed"),
    ("return: node Ready after (s)", "return_node_ready_s"),
    ("return: zone healthy after (s)", "return_zone_healthy_s"),
    ("return: failed back after (s)", "return_failed_back_s"),
    ("return: requests sent", "return.sent"),
    ("return: requests failed", "return.failed"),
    ("return: longest stretch without an answer (s)", "return.longest_gap_s"),
]


def log(message: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def pick(figures: dict[str, Any], path: str) -> float:
    value: Any = figures
    for key in path.split("."):
        value = value[key]
    return float(value)


def one_round(kill_operator: bool) -> Outage:
    ns = f"bench-outage-{uuid.uuid4().hex[:5]}"
    kubectl("create", "namespace", ns)
    try:
        apply(site_manifest("web", ns, replicas=6, traffic_distribution="PreferSameZone"))
        wait_phase("web", ns, "Redundant", timeout=240, readyReplicas=6, trafficDistribution="PreferSameZone")
        zones = ("zone-a", "zone-b", "zone-c")
        zone = next(z for z in zones if z not in set(operator_zones().values()))
        url = service_url(ns, "web")
        clients = [start_client(ns, url, seconds=900, retries=r) for r in (0, 1)]
        clients.append(start_client(ns, url, seconds=900, zone=next(z for z in zones if z != zone)))
        log(f"pausing {zone} ({'and killing the active operator' if kill_operator else 'operator untouched'})")
        return run_outage(ns, "web", zone, clients, kill_active_operator=kill_operator)
    finally:
        kubectl("delete", "namespace", ns, "--wait=false", check=False)


def table(title: str, outages: list[Outage]) -> dict[str, Any]:
    clients = list(outages[0].requests)
    medians = {
        c: {key: statistics.median(pick(o.figures(c), key) for o in outages) for _, key in ROWS} for c in clients
    }
    print(f"\n{title} ({len(outages)} round(s), medians)")
    print(f"  {'':48}" + "".join(f"{c:>18}" for c in clients))
    for label, key in ROWS:
        print(f"  {label:48}" + "".join(f"{medians[c][key]:>18g}" for c in clients))
    return {"medians": medians, "rounds": [{c: o.figures(c) for c in clients} for o in outages]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=1, help="outages per scenario (each takes 2-4 min)")
    args = parser.parse_args()
    if not KIND:
        sys.exit("runs on a kind cluster: hack/kind-e2e.sh --bench")
    grace = os.environ.get("SPOFLESS_NODE_GRACE") or "default"
    lease = os.environ.get("SPOFLESS_NODE_LEASE") or grace
    results: dict[str, Any] = {"node_monitor_grace": grace, "node_lease": lease, "interval_s": 0.1, "timeout_s": 1.0}
    for title, kill in (("zone outage", False), ("zone outage + active operator killed", True)):
        outages = []
        for i in range(args.rounds):
            log(f"{title}: round {i + 1}/{args.rounds}")
            outages.append(one_round(kill))
        results[title] = table(f"{title}, node monitor grace {grace}, node lease {lease}", outages)
    out = ROOT / "bench" / "results" / f"zone-outage-grace-{grace}-lease-{lease}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=2))
    log(f"figures written to {out}")


if __name__ == "__main__":
    main()
