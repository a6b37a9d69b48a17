"""`spofless whatif --lose ZONE` (and `kubectl spofless whatif`): what losing a zone would leave of
every site, workload and Service in scope, and what would go down. Reads with the audit's reader,
judges with the core (`core.judgement.whatif`), prints a table or JSON.

Exit codes: 0 nothing at or above --fail-on; 1 the loss would take something down (or, with
--fail-on spof, leave something on one pillar); 2 bad arguments or a zone with no Ready node;
3 the cluster could not be read at all.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from spofless.audit import access
from spofless.audit.options import WHATIF_FAIL_ON
from spofless.audit.reader import Reader
from spofless.core.judgement import whatif
from spofless.kube import Kube

VERDICTS = {"Down": "DOWN", "AtRisk": "on one pillar", "Stays": "stays up", "AlreadyDown": "down already"}


def run(args: argparse.Namespace) -> int:
    got = access.read("whatif", lambda client: _read(client, args), args)
    if got is None:
        return access.CANNOT_READ
    answer, scope = got
    if isinstance(answer, whatif.UnknownZone):
        print(f"spofless whatif: {answer}", file=sys.stderr)
        return 2
    sys.stdout.write((as_json(answer, scope) if args.output == "json" else as_table(answer, scope)) + "\n")
    return 1 if answer.fails(WHATIF_FAIL_ON[args.fail_on]) else 0


async def _read(client: Kube, args: argparse.Namespace) -> tuple[whatif.WhatIf | whatif.UnknownZone, str]:
    namespace = await access.namespace(args)
    reader = Reader(client, namespace, args.selector, args.topology_key)
    inventory, chosen = await reader.inventory()
    sites = await reader.sites(inventory.missing)
    scope = access.describe_scope(namespace, args.selector)
    try:
        return whatif.whatif(inventory, args.lose, chosen, sites), scope
    except whatif.UnknownZone as err:
        return err, scope


def _count(n: int | None) -> str:
    return "?" if n is None else str(n)


def _row(o: whatif.Outcome) -> list[str]:
    after = VERDICTS[o.verdict] if o.verdict else "unknown: its pods could not be read"
    if o.standing_on:
        after += f": {o.standing_on}"
    return [f"{o.namespace}/{o.kind}/{o.name}", _count(o.ready_now), _count(o.ready_left), _count(o.zones_left),
            after]  # fmt: skip


def _table(rows: list[list[str]]) -> list[str]:
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    return ["  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip() for row in rows]


def as_table(answer: whatif.WhatIf, scope: str) -> str:
    left = ", ".join(answer.zones_left) or "none"
    lines = [
        f"spofless whatif: losing {answer.zone} ({scope}); zones left: {left}",
        f"  {answer.count('Down')} would go down, {answer.count('AtRisk')} would be left on one pillar, "
        f"{answer.count('Stays')} stay up" + (f", {answer.count('AlreadyDown')} down already" if answer.count("AlreadyDown") else ""),
        "",
    ]  # fmt: skip
    outcomes = answer.outcomes()
    if outcomes:
        rows = [["WORKLOAD OR SERVICE", "READY NOW", "LEFT", "ZONES LEFT", "AFTER THE LOSS"]]
        rows += [_row(o) for o in outcomes]
        lines += _table(rows)
        notes = [(o, n) for o in outcomes for n in o.notes]
        if notes:
            lines += ["", "WHAT THE SITES' STATUS ADDS"]
            lines += [f"  {o.namespace}/{o.name}: {n}" for o, n in notes]
    else:
        lines.append("no workload or Service found")
    if answer.cluster:
        lines += ["", "THE CLUSTER"] + [f"  {f.message}" for f in answer.cluster]
    if answer.missing:
        lines += ["", "MISSING PERMISSIONS (the answer is partial)"]
        lines += [f"  {m.verb} {m.resource} ({m.where}): {m.effect}" for m in answer.missing]
    return "\n".join(lines) + "\n"


def as_json(answer: whatif.WhatIf, scope: str) -> str:
    def outcome(o: whatif.Outcome) -> dict[str, Any]:
        return {"kind": o.kind, "namespace": o.namespace, "name": o.name, "readyNow": o.ready_now,
                "readyLeft": o.ready_left, "zonesLeft": o.zones_left, "verdict": o.verdict,
                "standingOn": o.standing_on or None, "notes": list(o.notes)}  # fmt: skip

    return json.dumps(
        {
            "scope": scope,
            "lose": answer.zone,
            "zonesLeft": list(answer.zones_left),
            "summary": {v: answer.count(v) for v in ("Down", "AtRisk", "Stays", "AlreadyDown")},
            "workloads": [outcome(o) for o in answer.workloads],
            "services": [outcome(o) for o in answer.services],
            "cluster": [f.message for f in answer.cluster],
            "missingPermissions": [
                {"verb": m.verb, "resource": m.resource, "where": m.where, "effect": m.effect} for m in answer.missing
            ],
        },
        indent=2,
    )
