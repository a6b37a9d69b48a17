"""The read-only commands' command lines: audit, whatif, explain (no cluster library here: `spofless
--help` stays quick). `spofless` and the kubectl plugin (`kubectl spofless`) share them."""

from __future__ import annotations

import argparse
from typing import Literal, TypeAlias

from spofless.core.model.spec import DEFAULT_TOPOLOGY_KEY

FAIL_ON: dict[str, Literal["SPOF", "Warning"] | None] = {"spof": "SPOF", "warning": "Warning", "never": None}
WHATIF_FAIL_ON: dict[str, Literal["Down", "AtRisk"] | None] = {"down": "Down", "spof": "AtRisk", "never": None}

Sub: TypeAlias = "argparse._SubParsersAction[argparse.ArgumentParser]"


def _cluster(cmd: argparse.ArgumentParser) -> None:
    cmd.add_argument("--kubeconfig", help="the kubeconfig file (default: KUBECONFIG, else ~/.kube/config)")
    cmd.add_argument("--context", help="the kubeconfig context (default: its current one)")


def _scope(cmd: argparse.ArgumentParser, what: str) -> None:
    scope = cmd.add_mutually_exclusive_group()
    scope.add_argument("-n", "--namespace", help=f"the namespace to {what} (default: the context's)")
    scope.add_argument("-A", "--all-namespaces", action="store_true", help=f"{what} every namespace")
    cmd.add_argument("-l", "--selector", help="label selector of the workloads and Services to report on")
    cmd.add_argument("--topology-key", default=DEFAULT_TOPOLOGY_KEY, help="node label naming the zone")
    _cluster(cmd)


def add_audit(sub: Sub) -> None:
    cmd = sub.add_parser(
        "audit",
        help="report the single points of failure of any cluster's workloads (read-only)",
        description="Reads the cluster of the current kubeconfig context (never writes) and reports "
        "Deployments, StatefulSets and ReplicaSets without an owner: ready pods per zone and node, "
        "PodDisruptionBudget coverage, Services with endpoints in one zone, what losing each zone would leave.",
    )
    _scope(cmd, "audit")
    cmd.add_argument("-o", "--output", choices=["table", "json", "html"], default="table",
                     help="html: a one-page report to open in a browser (default %(default)s)")  # fmt: skip
    cmd.add_argument("--fail-on", choices=list(FAIL_ON), default="spof",
                     help="exit 1 when a finding of this severity or worse is present (default %(default)s)")  # fmt: skip


def add_whatif(sub: Sub) -> None:
    cmd = sub.add_parser(
        "whatif",
        help="what losing a zone would leave of every site, workload and Service (read-only)",
        description="Judges every workload and Service in scope as the audit does, once as the cluster is and "
        "once with every node of the zone NotReady, and says what would be left and what would go down. "
        "ResilientSites add what their status knows: the replicas spofless would move and whether they find "
        "room, and their dependencies' endpoints left.",
    )
    cmd.add_argument("--lose", required=True, metavar="ZONE", help="the zone to lose")
    _scope(cmd, "look at")
    cmd.add_argument("-o", "--output", choices=["table", "json"], default="table")
    cmd.add_argument("--fail-on", choices=list(WHATIF_FAIL_ON), default="down",
                     help="exit 1 when the loss would take something down (down), or also leave something on "
                     "one pillar (spof); default %(default)s")  # fmt: skip


def add_explain(sub: Sub) -> None:
    cmd = sub.add_parser(
        "explain",
        help="why a ResilientSite has its phase, finding by finding, with the fix for each (read-only)",
        description="Reads one ResilientSite and lays out its status: what its phase means, each single point "
        "of failure and warning with what to do about it, zones out of service, a halted rollout, and what "
        "losing each zone would leave.",
    )
    cmd.add_argument("site", help="the ResilientSite's name")
    cmd.add_argument("-n", "--namespace", help="its namespace (default: the context's)")
    cmd.add_argument("-o", "--output", choices=["text", "json"], default="text")
    _cluster(cmd)


def add_parsers(sub: Sub) -> None:
    add_audit(sub)
    add_whatif(sub)
    add_explain(sub)
