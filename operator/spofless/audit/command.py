"""`spofless audit`: read the cluster of the current kubeconfig context, print the report, and exit
non-zero when a finding at or above --fail-on is present (so CI can gate on it).

Exit codes: 0 nothing at or above --fail-on; 1 such a finding; 2 bad arguments; 3 the cluster could
not be read at all (no kubeconfig, unreachable, a refused label selector).
"""

from __future__ import annotations

import argparse
import asyncio
import sys

import aiohttp
from kubernetes_asyncio.client.exceptions import ApiException
from kubernetes_asyncio.config import ConfigException

from spofless import kube
from spofless.audit import render
from spofless.audit.options import FAIL_ON
from spofless.audit.reader import Reader
from spofless.core.judgement import audit


def run(args: argparse.Namespace) -> int:
    try:
        report, scope = asyncio.run(_read(args))
    except (ConfigException, OSError, aiohttp.ClientError, TimeoutError) as err:
        print(f"spofless audit: cannot read the cluster: {kube.describe(err)}", file=sys.stderr)
        return 3
    except ApiException as err:
        print(f"spofless audit: the API server refused a read: {kube.describe(err)}", file=sys.stderr)
        return 3
    out = render.as_json(report, scope) if args.output == "json" else render.as_table(report, scope)
    sys.stdout.write(out + "\n")
    return 1 if report.fails(FAIL_ON[args.fail_on]) else 0


async def _read(args: argparse.Namespace) -> tuple[audit.Report, str]:
    client = await kube.Kube.connect()
    try:
        namespace = None if args.all_namespaces else (args.namespace or await kube.current_namespace())
        reader = Reader(client, namespace, args.selector, args.topology_key)
        inventory, chosen = await reader.inventory()
    finally:
        await client.close()
    scope = "all namespaces" if namespace is None else f"namespace {namespace}"
    if args.selector:
        scope += f", selector {args.selector}"
    return audit.audit(inventory, chosen), scope
