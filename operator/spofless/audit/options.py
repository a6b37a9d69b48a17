"""The audit's command line (no cluster library here: `spofless --help` stays quick)."""

from __future__ import annotations

import argparse
from typing import Literal

from spofless.core.model.spec import DEFAULT_TOPOLOGY_KEY

FAIL_ON: dict[str, Literal["SPOF", "Warning"] | None] = {"spof": "SPOF", "warning": "Warning", "never": None}


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    cmd = sub.add_parser(
        "audit",
        help="report the single points of failure of any cluster's workloads (read-only)",
        description="Reads the cluster of the current kubeconfig context (never writes) and reports "
        "Deployments, StatefulSets and ReplicaSets without an owner: ready pods per zone and node, "
        "PodDisruptionBudget coverage, Services with endpoints in one zone, what losing each zone would leave.",
    )
    scope = cmd.add_mutually_exclusive_group()
    scope.add_argument("-n", "--namespace", help="the namespace to audit (default: the context's)")
    scope.add_argument("-A", "--all-namespaces", action="store_true", help="audit every namespace")
    cmd.add_argument("-l", "--selector", help="label selector of the workloads and Services to report on")
    cmd.add_argument("-o", "--output", choices=["table", "json"], default="table")
    cmd.add_argument("--fail-on", choices=list(FAIL_ON), default="spof",
                     help="exit 1 when a finding of this severity or worse is present (default %(default)s)")  # fmt: skip
    cmd.add_argument("--topology-key", default=DEFAULT_TOPOLOGY_KEY, help="node label naming the zone")
