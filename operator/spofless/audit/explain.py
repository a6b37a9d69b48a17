"""`spofless explain SITE` (and `kubectl spofless explain`): why a ResilientSite has its phase,
finding by finding, with the fix for each. Reads the one site, lays its status out with the core
(`core.judgement.explain`), prints text or JSON.

Exit codes: 0 explained; 2 bad arguments; 3 the cluster could not be read, or no such site.
"""

from __future__ import annotations

import argparse
import json
import sys
import textwrap
from dataclasses import asdict

from spofless.audit import access
from spofless.audit.reader import read_site
from spofless.core.judgement import explain
from spofless.kube import Kube

WIDTH = 100


def run(args: argparse.Namespace) -> int:
    got = access.read("explain", lambda client: _read(client, args), args)
    if got is None:
        return access.CANNOT_READ
    answer, namespace = got
    if answer is None:
        print(f"spofless explain: no ResilientSite {args.site} in namespace {namespace}", file=sys.stderr)
        return access.CANNOT_READ
    sys.stdout.write(as_json(answer) if args.output == "json" else as_text(answer))
    return 0


async def _read(client: Kube, args: argparse.Namespace) -> tuple[explain.Explanation | None, str]:
    namespace = await access.namespace(args) or "default"
    site = await read_site(client, namespace, args.site)
    return (explain.explain(site) if site is not None else None), namespace


def _wrapped(label: str, text: str) -> list[str]:
    return textwrap.wrap(text, WIDTH, initial_indent=f"    {label:<5} ", subsequent_indent=" " * 10) or [f"    {label}"]


def as_text(answer: explain.Explanation) -> str:
    lines = [f"{answer.site}: {answer.phase}: {answer.meaning}"]
    if answer.message:
        lines.append(f"  {answer.message}")
    lines.append("")
    for n, point in enumerate(answer.points, 1):
        lines.append(f"{n}. {point.severity} {point.title}")
        lines += _wrapped("why", point.detail)
        lines += _wrapped("fix", point.fix)
    if answer.zone_loss:
        lines += ["", "IF A ZONE IS LOST"] + [f"  {z.zone}: {z.text}" for z in answer.zone_loss]
    return "\n".join(lines) + "\n"


def as_json(answer: explain.Explanation) -> str:
    return json.dumps(asdict(answer), indent=2) + "\n"
