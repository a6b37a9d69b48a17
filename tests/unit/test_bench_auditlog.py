"""The benches' reading of the operator's writes in kube-apiserver's audit log (bench/auditlog.py)."""

from __future__ import annotations

from typing import Any

from bench import auditlog, blast


def event(
    verb: str, resource: str, subresource: str = "", uri: str = "/", stage: str = "ResponseComplete"
) -> dict[str, Any]:
    ref = {"resource": resource, **({"subresource": subresource} if subresource else {})}
    return {"verb": verb, "objectRef": ref, "requestURI": uri, "stage": stage,
            "requestReceivedTimestamp": "2026-12-05T21:00:00.123456Z"}  # fmt: skip


EVENTS = [
    event("patch", "deployments", uri="/apis/apps/v1/namespaces/web/deployments/a?fieldManager=spofless"),
    event("patch", "deployments", uri="/apis/apps/v1/namespaces/web/deployments/a?dryRun=All&fieldManager=spofless"),
    event("patch", "deployments", "scale"),
    event("patch", "resilientsites", "status"),
    event("patch", "resilientsites", "status"),
    event("create", "events"),
    event("get", "deployments"),  # a read: not a write
    event("list", "pods"),
    event("patch", "deployments", stage="ResponseStarted"),  # the same request seen twice counts once
]


def test_writes_are_told_apart_by_verb_resource_subresource_and_dry_run() -> None:
    writes = auditlog.writes(EVENTS)
    assert len(writes) == 6
    assert auditlog.by_what(writes) == {
        "patch resilientsites/status": 2,
        "patch deployments": 1,
        "patch deployments (dry run)": 1,
        "patch deployments/scale": 1,
        "create events": 1,
    }


def test_the_blast_bench_counts_writes_as_the_others_do() -> None:
    out = blast.writes(EVENTS)
    assert out["writes"] == 6
    assert out["writes_peak_per_s"] == 6  # all in the same second
    assert out["writes_by"] == auditlog.by_what(auditlog.writes(EVENTS))
