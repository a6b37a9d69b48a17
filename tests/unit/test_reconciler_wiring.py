"""Narrow wiring tests of the reconciler with an in-process stand-in for the API calls."""

import asyncio
from typing import Any

import pytest
from kubernetes_asyncio.client.exceptions import ApiException

from spofless.core import decision
from spofless.core.observed import Child, Observed
from spofless.kube import Refused
from spofless.operator.reconciler import Reconciler, covers

from .builders import T0, site, world

ZONES = {"zone-a": 3, "zone-b": 3, "zone-c": 3}
EVEN = {"zone-a": 2, "zone-b": 2, "zone-c": 2}


class Calls:
    """Records the calls; `refuse` makes a real (non dry-run) or dry-run apply of that kind fail."""

    def __init__(self, refuse: str | None = None, fail: str | None = None) -> None:
        self.log: list[tuple[str, Any]] = []
        self.refuse, self.fail = refuse, fail
        self.statuses: list[dict[str, Any]] = []

    async def apply(self, manifest: dict[str, Any], dry_run: bool = False) -> dict[str, Any]:
        if manifest["kind"] == self.refuse:
            raise Refused(manifest["kind"], manifest["metadata"]["name"], "spec.template: Invalid value")
        if manifest["kind"] == self.fail and not dry_run:
            raise ApiException(status=500, reason="Internal Server Error")
        self.log.append(("dry-run" if dry_run else "apply", manifest["metadata"]["name"]))
        return {**manifest, "metadata": {**manifest["metadata"], "resourceVersion": "7"}}

    async def delete(self, kind: str, namespace: str, name: str) -> None:
        self.log.append(("delete", name))

    async def patch_status(self, namespace: str, name: str, status: dict[str, Any]) -> dict[str, Any]:
        self.log.append(("status", status["phase"]))
        self.statuses.append(status)
        return {"metadata": {"resourceVersion": "8"}, "status": status}


def body_of(s: decision.Site) -> dict[str, Any]:
    return {
        "apiVersion": "spofless.dev/v1alpha1", "kind": "ResilientSite",
        "metadata": {"name": s.name, "namespace": s.namespace, "uid": s.uid, "generation": s.generation},
        "spec": s.spec, "status": s.status,
    }  # fmt: skip


def reconcile(calls: Calls, body: dict[str, Any], observed: Observed) -> decision.Decision:
    events: list[decision.Event] = []
    reconciler = Reconciler(kube=calls, post=lambda _b, e: events.append(e))  # type: ignore[arg-type]
    return asyncio.run(reconciler.reconcile(("web", "shop"), body, observed))


def as_applied(result: decision.Decision) -> Observed:
    """The world after the manifests were applied: children equal to them plus API defaults."""
    base = world(ZONES, EVEN)
    children = tuple(
        Child(kind=m["kind"], name=m["metadata"]["name"], zone=m["metadata"]["labels"].get("spofless.dev/zone"),
              body={**m, "status": {}, "metadata": {**m["metadata"], "uid": "x", "resourceVersion": "7"}})
        for m in result.apply
    )  # fmt: skip
    return Observed(nodes=base.nodes, pods=base.pods, endpoints=base.endpoints, children=children)


def test_a_new_site_is_applied_without_a_dry_run() -> None:
    calls = Calls()
    empty = world(ZONES, {}, replicas={})
    reconcile(calls, body_of(site({"replicas": 6})), Observed(nodes=empty.nodes))
    assert [v for v, _ in calls.log] == ["apply"] * 7 + ["status"]


def test_a_change_to_existing_children_is_dry_run_whole_first() -> None:
    calls = Calls()
    reconcile(calls, body_of(site({"replicas": 6})), world(ZONES, EVEN))
    verbs = [v for v, _ in calls.log]
    assert verbs == ["dry-run"] * 7 + ["apply"] * 7 + ["status"]


def test_a_pass_with_nothing_to_change_makes_no_call() -> None:
    first = decision.decide(site({"replicas": 6}), world(ZONES, EVEN), T0)
    calls = Calls()
    reconcile(calls, body_of(site({"replicas": 6}, first.status)), as_applied(first))
    assert [v for v, _ in calls.log if v != "status"] == []


def test_a_refused_template_writes_nothing_but_the_invalid_status() -> None:
    calls = Calls(refuse="Deployment")
    result = reconcile(calls, body_of(site({"replicas": 6})), world(ZONES, EVEN))
    assert result.status["phase"] == "Invalid"
    assert all(v in ("dry-run", "status") for v, _ in calls.log)
    assert ("status", "Invalid") in calls.log


def test_covers_ignores_fields_the_api_adds() -> None:
    assert covers({"a": [{"b": 1}]}, {"a": [{"b": 1, "c": 2}], "d": 3})
    assert not covers({"a": [{"b": 1}]}, {"a": [{"b": 2}]})
    assert not covers({"a": [1, 2]}, {"a": [1]})


def test_a_wedged_pass_shows_in_the_liveness_figure() -> None:
    async def scenario() -> tuple[float, float]:
        entered, gate = asyncio.Event(), asyncio.Event()
        reconciler = Reconciler(kube=Calls(), post=lambda _b, _e: None)  # type: ignore[arg-type]

        async def load() -> None:
            entered.set()
            await gate.wait()  # stands for an API call that does not return

        task = asyncio.create_task(reconciler.request(("web", "shop"), load))
        await entered.wait()
        during = reconciler.longest_pass()
        gate.set()
        await task
        return during, reconciler.longest_pass()

    during, after = asyncio.run(scenario())
    assert during > 0.0
    assert after == 0.0


def test_a_failed_apply_is_reported_in_the_status_and_raised_for_a_retry() -> None:
    calls = Calls(fail="Service")
    with pytest.raises(ApiException):
        reconcile(calls, body_of(site({"replicas": 6})), world(ZONES, EVEN))
    applied = [name for verb, name in calls.log if verb == "apply"]
    assert applied[:6] == ["shop-zone-a"] * 2 + ["shop-zone-b"] * 2 + ["shop-zone-c"] * 2  # pods first
    reconciled = next(c for c in calls.statuses[-1]["conditions"] if c["type"] == "Reconciled")
    assert (reconciled["status"], reconciled["reason"]) == ("False", "ApplyFailed")
    assert "500" in reconciled["message"]
