"""The audit's report as a table that reads at a glance, or as JSON."""

from __future__ import annotations

import json
from collections import Counter
from typing import Any

from spofless.core.judgement import audit


def as_json(report: audit.AuditReport, scope: str) -> str:
    return json.dumps(to_dict(report, scope), indent=2)


def to_dict(report: audit.AuditReport, scope: str) -> dict[str, Any]:
    counts = Counter(f.severity for f in report.findings)
    return {
        "scope": scope,
        "zones": list(report.zones),
        "nodes": report.nodes,
        "summary": {"SPOF": counts["SPOF"], "Warning": counts["Warning"]},
        "workloads": [_workload(w) for w in report.workloads],
        "services": [_service(s) for s in report.services],
        "budgets": [{"namespace": b.namespace, "name": b.name, "covers": b.covers} for b in report.budgets],
        "zoneLoss": [{"zone": z.zone, "down": list(z.down), "oneLeft": list(z.one_left)} for z in report.zone_loss],
        "findings": [_finding(f) for f in report.findings],
        "missingPermissions": [
            {"verb": m.verb, "resource": m.resource, "where": m.where, "effect": m.effect} for m in report.missing
        ],
    }


def _service(s: audit.ServiceReport) -> dict[str, Any]:
    return {
        "namespace": s.namespace,
        "name": s.name,
        "readyEndpoints": s.ready.total,
        "zones": _nonzero(s.ready.per_zone),
    }


def _nonzero(counts: dict[str, int]) -> dict[str, int]:
    return {k or "(unknown)": v for k, v in sorted(counts.items()) if v > 0}


def _workload(w: audit.WorkloadReport) -> dict[str, Any]:
    return {
        "kind": w.kind,
        "namespace": w.namespace,
        "name": w.name,
        "replicas": w.replicas,
        "readyPods": w.ready.total if w.ready is not None else None,
        "zones": _nonzero(w.ready.per_zone) if w.ready is not None else None,
        "nodes": _nonzero(w.ready.per_node) if w.ready is not None else None,
        "budgets": list(w.budgets) if w.budgets is not None else None,
        "zoneLoss": w.zone_loss,
        "finding": _finding(w.finding) if w.finding else None,
    }


def _finding(f: audit.AuditFinding) -> dict[str, str]:
    return {"severity": f.severity, "scope": f.scope, "kind": f.kind, "namespace": f.namespace, "name": f.name,
            "message": f.message}  # fmt: skip


def _table(rows: list[list[str]]) -> list[str]:
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    return ["  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip() for row in rows]


def _budgets(names: tuple[str, ...]) -> str:
    if not names:
        return "-"
    return names[0] + (f" +{len(names) - 1}" if len(names) > 1 else "")


def _worst_loss(w: audit.WorkloadReport) -> str:
    if w.ready is None or not w.zone_loss:
        return "?"
    zone, left = min(w.zone_loss.items(), key=lambda kv: (kv[1], kv[0]))
    if len(set(w.zone_loss.values())) == 1:
        return f"any: {left} left"
    return f"{zone}: {left} left"


def as_table(report: audit.AuditReport, scope: str) -> str:
    counts = Counter(f.severity for f in report.findings)
    nodes = "?" if report.nodes is None else str(report.nodes)
    zones = ", ".join(report.zones) or "?"
    lines = [
        f"spofless audit: {scope}; {len(report.zones)} zone(s) ({zones}), {nodes} node(s); "
        f"{counts['SPOF']} SPOF, {counts['Warning']} warning(s)",
        "",
    ]
    if report.workloads:
        head = ["WORKLOAD", "READY", *report.zones, "NODES", "PDB", "LOSING A ZONE", "SPOF"]
        rows = [head]
        for w in report.workloads:
            ready = "?" if w.ready is None else f"{w.ready.total}/{w.replicas}"
            per_zone = [str(w.ready.per_zone.get(z, 0)) if w.ready else "?" for z in report.zones]
            node_count = str(len(w.ready.per_node)) if w.ready else "?"
            budgets = "?" if w.budgets is None else _budgets(w.budgets)
            spof = f"{w.finding.scope}" if w.finding else "-"
            rows.append(
                [f"{w.namespace}/{w.kind}/{w.name}", ready, *per_zone, node_count, budgets, _worst_loss(w), spof]
            )
        lines += [*_table(rows), ""]
    else:
        lines += ["no workload found", ""]
    lines += _zone_loss(report)
    if report.findings:
        lines.append("FINDINGS")
        lines += [f"  {f.severity:<8} {f.scope:<16} {f.message}" for f in report.findings]
        lines.append("")
    if report.missing:
        lines.append("MISSING PERMISSIONS (the report is partial)")
        lines += [f"  {m.verb} {m.resource} ({m.where}): {m.effect}" for m in report.missing]
        lines.append("")
    return "\n".join(lines)


def _some(names: tuple[str, ...], shown: int = 5) -> str:
    more = f", and {len(names) - shown} more" if len(names) > shown else ""
    return ", ".join(names[:shown]) + more


def _zone_loss(report: audit.AuditReport) -> list[str]:
    if not report.zone_loss:
        return []
    out = ["IF A ZONE IS LOST"]
    for z in report.zone_loss:
        parts = []
        if z.down:
            parts.append(f"{len(z.down)} down ({_some(z.down)})")
        if z.one_left:
            parts.append(f"{len(z.one_left)} left on one pod ({_some(z.one_left)})")
        out.append(f"  {z.zone}: {'; '.join(parts) or 'every workload keeps at least 2 ready pods'}")
    return [*out, ""]
