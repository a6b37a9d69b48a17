"""`spofless audit -o html`: the report as one self-contained page for people who do not live in a
terminal. No script, no external style or font: it opens from a mail attachment or a CI artifact.

The same report as the table (`render`), laid out to read from the top: the verdict, what to fix
(each finding with its remedy), what losing each zone would leave, then every workload's placement.
"""

from __future__ import annotations

from collections import Counter
from html import escape

from spofless.core.judgement import audit, remedies

STYLE = """
body { font: 15px/1.45 system-ui, sans-serif; margin: 2em auto; max-width: 72em; color: #1c1c1c; padding: 0 1em; }
h1 { font-size: 1.6em; margin-bottom: .2em; } h2 { font-size: 1.2em; margin-top: 1.8em; }
.scope { color: #555; }
.verdict { font-size: 1.2em; padding: .6em 1em; border-radius: 6px; margin: 1em 0; }
.verdict.spof { background: #c62828; color: #fff; } .verdict.warning { background: #f9a825; }
.verdict.clean { background: #2e7d32; color: #fff; }
table { border-collapse: collapse; width: 100%; } th, td { text-align: left; padding: .3em .6em; }
th { background: #eceff1; } tr:nth-child(even) td { background: #fafafa; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
.tag { display: inline-block; padding: 0 .5em; border-radius: 4px; font-size: .85em; font-weight: 600; }
.tag.SPOF { background: #c62828; color: #fff; } .tag.Warning { background: #f9a825; }
.tag.ok { background: #2e7d32; color: #fff; }
.fix { color: #333; margin: .2em 0 .8em 0; } li { margin-bottom: .3em; }
"""


def page(report: audit.AuditReport, scope: str) -> str:
    counts: Counter[str] = Counter(f.severity for f in report.findings)
    nodes = "?" if report.nodes is None else str(report.nodes)
    parts = [
        "<!doctype html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f"<title>spofless audit: {escape(scope)}</title><style>{STYLE}</style></head><body>",
        "<h1>spofless audit</h1>",
        f'<p class="scope">{escape(scope)}; {len(report.zones)} zone(s) ({escape(", ".join(report.zones) or "?")}), '
        f"{nodes} node(s)</p>",
        _verdict(counts),
        *_findings(report),
        *_zone_loss(report),
        *_workloads(report),
        *_missing(report),
        "</body></html>",
    ]
    return "\n".join(parts)


def _verdict(counts: Counter[str]) -> str:
    if counts["SPOF"]:
        return (f'<div class="verdict spof">{counts["SPOF"]} single point(s) of failure, '
                f"{counts['Warning']} warning(s)</div>")  # fmt: skip
    if counts["Warning"]:
        return f'<div class="verdict warning">No single point of failure; {counts["Warning"]} warning(s)</div>'
    return '<div class="verdict clean">No single point of failure, no warning</div>'


def _findings(report: audit.AuditReport) -> list[str]:
    if not report.findings:
        return []
    items = [
        f'<li><span class="tag {f.severity}">{f.severity}</span> <b>{escape(f.scope)}</b> {escape(f.message)}'
        f'<div class="fix">Fix: {escape(remedies.for_finding(f.scope, f.name, "workload"))}</div></li>'
        for f in report.findings
    ]
    return ["<h2>What to fix</h2>", "<ol>", *items, "</ol>"]


def _zone_loss(report: audit.AuditReport) -> list[str]:
    if not report.zone_loss:
        return []
    rows = []
    for z in report.zone_loss:
        down = escape(", ".join(z.down)) or "none"
        one = escape(", ".join(z.one_left)) or "none"
        rows.append(f"<tr><td>{escape(z.zone)}</td><td>{down}</td><td>{one}</td></tr>")
    return ["<h2>If a zone is lost</h2>", "<table><tr><th>zone</th><th>would go down</th>"
            "<th>would be left on one pod</th></tr>", *rows, "</table>"]  # fmt: skip


def _workloads(report: audit.AuditReport) -> list[str]:
    if not report.workloads:
        return ["<h2>Workloads</h2>", "<p>No workload found.</p>"]
    head = "".join(f"<th>{escape(h)}</th>" for h in ["workload", "ready", *report.zones, "nodes", "budgets", "SPOF"])
    rows = []
    for w in report.workloads:
        ready = "?" if w.ready is None else f"{w.ready.total}/{w.replicas}"
        zones = "".join(f'<td class="num">{w.ready.per_zone.get(z, 0) if w.ready else "?"}</td>' for z in report.zones)
        nodes = str(len(w.ready.per_node)) if w.ready else "?"
        budgets = "?" if w.budgets is None else escape(", ".join(w.budgets)) or "none"
        spof = (
            f'<span class="tag SPOF">{escape(w.finding.scope)}</span>'
            if w.finding
            else '<span class="tag ok">no</span>'
        )
        rows.append(
            f'<tr><td>{escape(f"{w.namespace}/{w.kind}/{w.name}")}</td><td class="num">{ready}</td>{zones}'
            f'<td class="num">{nodes}</td><td>{budgets}</td><td>{spof}</td></tr>'
        )
    return ["<h2>Workloads</h2>", f"<table><tr>{head}</tr>", *rows, "</table>"]


def _missing(report: audit.AuditReport) -> list[str]:
    if not report.missing:
        return []
    items = [f"<li>{escape(f'{m.verb} {m.resource} ({m.where}): {m.effect}')}</li>" for m in report.missing]
    return ["<h2>Missing permissions (the report is partial)</h2>", "<ul>", *items, "</ul>"]
