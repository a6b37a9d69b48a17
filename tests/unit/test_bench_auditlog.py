"""The benches' reading of the operator's writes in kube-apiserver's audit log (bench/auditlog.py)."""

from __future__ import annotations

from datetime import UTC, datetime
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


def test_the_blast_bench_times_each_sites_first_write_from_the_server_side() -> None:
    def done(name: str, at: str, subresource: str = "status", code: int = 200) -> dict[str, Any]:
        ref = {"resource": "resilientsites", "subresource": subresource, "name": name}
        return {"verb": "patch", "objectRef": ref, "requestURI": "/", "stage": "ResponseComplete",
                "stageTimestamp": f"2026-12-05T21:00:{at}Z", "responseStatus": {"code": code}}  # fmt: skip

    origin = datetime(2026, 12, 5, 21, 0, 10, tzinfo=UTC).timestamp()
    events = [
        done("a", "09.000000"),  # before the origin: not a reaction to it
        done("a", "12.500000"),
        done("a", "11.250000"),  # its first after the origin, whatever the log's order
        done("b", "13.000000", code=409),  # refused: not written
        done("b", "14.000000"),
        done("c", "11.000000", subresource="scale"),  # another kind of write
        done("d", "15.000000"),  # not a site of this bench
    ]
    sites = {"a": "a", "b": "b"}
    assert blast.written(events, origin, "resilientsites", "status", sites.get) == {"a": 1.25, "b": 4.0}
