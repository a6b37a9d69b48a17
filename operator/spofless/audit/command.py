"""`spofless audit`: read the cluster of the current kubeconfig context, print the report, and exit
non-zero when a finding at or above --fail-on is present (so CI can gate on it).

Exit codes: 0 nothing at or above --fail-on; 1 such a finding; 2 bad arguments; 3 the cluster could
not be read at all (no kubeconfig, unreachable, a refused label selector).
"""

from __future__ import annotations

import argparse
import sys

from spofless.audit import access, html, render
from spofless.audit.options import FAIL_ON
from spofless.audit.reader import Reader
from spofless.core.judgement import audit
from spofless.kube import Kube


def run(args: argparse.Namespace) -> int:
    got = access.read("audit", lambda client: _read(client, args), args)
    if got is None:
        return access.CANNOT_READ
    report, scope = got
    write = {"json": render.as_json, "html": html.page}.get(args.output, render.as_table)
    sys.stdout.write(write(report, scope) + "\n")
    return 1 if report.fails(FAIL_ON[args.fail_on]) else 0


async def _read(client: Kube, args: argparse.Namespace) -> tuple[audit.AuditReport, str]:
    namespace = await access.namespace(args)
    inventory, chosen = await Reader(client, namespace, args.selector, args.topology_key).inventory()
    return audit.audit(inventory, chosen), access.describe_scope(namespace, args.selector)
