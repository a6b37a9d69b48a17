"""Narrow wiring tests of the reconciler with an in-process stand-in for the API calls."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Mapping
from typing import Any

import pytest
from kubernetes_asyncio.client.exceptions import ApiException

from spofless.core.model.events import Event
from spofless.core.observed.records import Child, Observed
from spofless.core.site import decision
from spofless.kube import Api, Refused
from spofless.operator import metrics
from spofless.operator import reconciler as reconciler_module
from spofless.operator.reconciler import Reconciler, covers, merge_patch

from .builders import T0, site, world

ZONES = {"zone-a": 3, "zone-b": 3, "zone-c": 3}
EVEN = {"zone-a": 2, "zone-b": 2, "zone-c": 2}


class Calls:
    """Records the calls; `refuse` makes a real (non dry-run) or dry-run apply of that kind fail."""

    def __init__(self, refuse: str | None = None, fail: str | None = None, refuse_image: str | None = None) -> None:
        self.log: list[tuple[str, Any]] = []
        self.refuse, self.fail, self.refuse_image = refuse, fail, refuse_image
        self.statuses: list[dict[str, Any]] = []
        self.status_written = asyncio.Event()  # set on every status write, for tests to wait on

    async def apply(self, manifest: dict[str, Any], dry_run: bool = False) -> dict[str, Any]:
        images = [c["image"] for c in manifest["spec"].get("template", {}).get("spec", {}).get("containers", [])]
        if manifest["kind"] == self.refuse or (self.refuse_image is not None and self.refuse_image in images):
            raise Refused(manifest["kind"], manifest["metadata"]["name"], "spec.template: Invalid value")
        if manifest["kind"] == self.fail and not dry_run:
            raise ApiException(status=500, reason="Internal Server Error")
        self.log.append(("dry-run" if dry_run else "apply", manifest["metadata"]["name"]))
        return {**manifest, "metadata": {**manifest["metadata"], "resourceVersion": "7"}}

    async def delete(self, kind: str, namespace: str, name: str) -> None:
        self.log.append(("delete", name))

    async def patch_status(self, namespace: str, name: str, status: dict[str, Any]) -> None:
        self.log.append(("status", status["phase"]))
        self.statuses.append(status)
        self.status_written.set()

    async def close(self) -> None:
        self.log.append(("close", ""))

    async def scale(self, namespace: str, name: str, replicas: int) -> None:
        self.log.append(("scale", (name, replicas)))


def _implements_the_protocol(calls: Calls) -> Api:
    return calls  # mypy checks the stand-in against the real client's Protocol here


def body_of(s: decision.Site) -> dict[str, Any]:
    return {
        "apiVersion": "spofless.dev/v1alpha1", "kind": "ResilientSite",
        "metadata": {"name": s.name, "namespace": s.namespace, "uid": s.uid, "generation": s.generation},
        "spec": s.spec, "status": s.status,
    }  # fmt: skip


def reconcile(calls: Calls, body: dict[str, Any], observed: Observed) -> decision.Decision:
    events: list[Event] = []
    reconciler = Reconciler(kube=calls, post=lambda _b, e: events.append(e))
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
    assert [v for v, _ in calls.log] == ["apply"] * 5 + ["status"]


def test_a_change_to_existing_children_is_dry_run_whole_first() -> None:
    calls = Calls()
    reconcile(calls, body_of(site({"replicas": 6})), world(ZONES, EVEN))
    verbs = [v for v, _ in calls.log]
    assert verbs == ["dry-run"] * 5 + ["apply"] * 5 + ["status"]


def test_a_pass_with_nothing_to_change_makes_no_call() -> None:
    first = decision.decide(site({"replicas": 6}), world(ZONES, EVEN), T0)
    calls = Calls()
    reconcile(calls, body_of(site({"replicas": 6}, first.status)), as_applied(first))
    assert [v for v, _ in calls.log if v != "status"] == []


def test_children_just_created_are_not_created_again_before_the_index_shows_them(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Under load the index lags behind our own creates: a second pass that still sees no children
    writes none, and only past the wait is a child the index never showed made again."""
    new_site = dataclasses.replace(world(ZONES, {}), children=())

    async def passes() -> list[list[str]]:
        calls = Calls()
        reconciler = Reconciler(kube=calls, post=lambda _b, _e: None)
        applied = []
        for lag in (60.0, 60.0, 0.0):
            monkeypatch.setattr(reconciler_module, "INDEX_LAG_SECONDS", lag)
            calls.log.clear()
            await reconciler.reconcile(("web", "shop"), body_of(site({"replicas": 6})), new_site)
            applied.append([name for verb, name in calls.log if verb == "apply"])
        return applied

    first, lagging, gone = asyncio.run(passes())
    assert len(first) == 5 and lagging == [] and sorted(gone) == sorted(first)


def test_a_refused_template_writes_nothing_but_the_invalid_status() -> None:
    calls = Calls(refuse="Deployment")
    result = reconcile(calls, body_of(site({"replicas": 6})), world(ZONES, EVEN))
    assert result.status["phase"] == "Invalid"
    assert all(v in ("dry-run", "status") for v, _ in calls.log)
    assert ("status", "Invalid") in calls.log


def test_a_refused_template_still_reports_what_is_observed() -> None:
    """The core, not the reconciler, writes the Invalid status: from what runs now, not the last status."""
    stale = decision.decide(site({"replicas": 6}), world(ZONES, EVEN), T0).status
    calls = Calls(refuse="Deployment")
    now = world(ZONES, {"zone-a": 2, "zone-c": 2}, replicas=EVEN, not_ready=("zone-b",))
    result = reconcile(calls, body_of(site({"replicas": 6}, stale)), now)
    status = result.status
    assert (status["phase"], status["readyReplicas"], status["readyZones"]) == ("Invalid", 4, 2)
    assert [z["healthy"] for z in status["zones"]] == [True, False, True]
    reconciled = next(c for c in status["conditions"] if c["type"] == "Reconciled")
    assert (reconciled["status"], reconciled["reason"]) == ("False", "ApplyRefused")
    assert {e.reason for e in result.events} >= {"ApplyRefused", "ZoneLost"}


def test_covers_ignores_fields_the_api_adds() -> None:
    assert covers({"a": [{"b": 1}]}, {"a": [{"b": 1, "c": 2}], "d": 3})
    assert not covers({"a": [{"b": 1}]}, {"a": [{"b": 2}]})
    assert not covers({"a": [1, 2]}, {"a": [1]})


def test_a_wedged_pass_shows_in_the_liveness_figure() -> None:
    async def scenario() -> tuple[float, float]:
        entered, gate = asyncio.Event(), asyncio.Event()
        reconciler = Reconciler(kube=Calls(), post=lambda _b, _e: None)

        async def load() -> None:
            entered.set()
            await gate.wait()  # stands for an API call that does not return
            return None

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
    assert applied[:4] == ["shop-zone-a", "shop-zone-b", "shop-zone-c", "shop"]  # pods first, then the budget
    reconciled = next(c for c in calls.statuses[-1]["conditions"] if c["type"] == "Reconciled")
    assert (reconciled["status"], reconciled["reason"]) == ("False", "ApplyFailed")
    assert "500" in reconciled["message"]


class Driver:
    """Runs the reconciler's pass policy against the stand-in, counting passes and events."""

    def __init__(self, calls: Calls | None = None) -> None:
        self.calls = calls or Calls()
        self.events: list[Event] = []
        self.reconciler = Reconciler(kube=self.calls, post=lambda _b, e: self.events.append(e))
        self.loads = 0
        self.loaded = asyncio.Event()
        self.body: dict[str, Any] | None = body_of(site({"replicas": 6}))
        self.observed = world(ZONES, EVEN)

    async def load(self) -> tuple[Mapping[str, Any], Observed] | None:
        self.loads += 1
        self.loaded.set()
        await asyncio.sleep(0)  # a pass yields to the loop, as a real one does on its API calls
        return (self.body, self.observed) if self.body is not None else None


def test_requests_arriving_during_a_pass_fold_into_one_more_pass() -> None:
    async def scenario() -> int:
        driver = Driver()
        await asyncio.gather(*(driver.reconciler.request(("web", "shop"), driver.load) for _ in range(5)))
        return driver.loads

    assert asyncio.run(scenario()) == 2  # the first pass, then one for the four that came meanwhile


def test_passes_are_counted_where_they_run_not_where_they_are_requested() -> None:
    before = metrics.RECONCILES._value.get()

    async def scenario() -> None:
        driver = Driver()
        await asyncio.gather(*(driver.reconciler.request(("web", "shop"), driver.load) for _ in range(5)))

    asyncio.run(scenario())
    assert metrics.RECONCILES._value.get() - before == 2


def test_a_failed_pass_is_retried_by_a_timed_pass(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(reconciler_module, "RETRY_SECONDS", 0.01)

    def reconciled(status: dict[str, Any]) -> str:
        return str(next(c for c in status["conditions"] if c["type"] == "Reconciled")["reason"])

    async def scenario() -> list[str]:
        driver = Driver(Calls(fail="Service"))
        await driver.reconciler.request(("web", "shop"), driver.load)  # fails, schedules the retry
        assert driver.reconciler.memory[("web", "shop")].wakeup is not None
        driver.calls.fail = None  # the API server is back
        driver.calls.status_written.clear()
        await asyncio.wait_for(driver.calls.status_written.wait(), timeout=5)  # the timed pass's status
        return [reconciled(s) for s in driver.calls.statuses]

    assert asyncio.run(scenario()) == ["ApplyFailed", "Applied"]  # reported, then retried without a trigger


def test_a_failback_window_wakes_a_timed_pass() -> None:
    async def scenario() -> float | None:
        driver = Driver()
        driver.reconciler.wake_later(("web", "shop"), driver.load, 0.0)
        await asyncio.wait_for(driver.loaded.wait(), timeout=5)
        return driver.loads

    assert asyncio.run(scenario()) == 1


def test_forget_drops_the_site_and_only_that_site() -> None:
    async def scenario() -> tuple[set[tuple[str, str]], bool]:
        reconciler = Reconciler(kube=Calls(), post=lambda _b, _e: None)
        for name in ("shop", "shop2"):
            body = {**body_of(site({"replicas": 6})), "metadata": {"name": name, "namespace": "web", "uid": name}}
            await reconciler.reconcile(("web", name), body, world(ZONES, EVEN, site=name))
        reconciler.wake_later(("web", "shop"), _never, 60)
        timer = reconciler.memory[("web", "shop")].wakeup
        reconciler.forget(("web", "shop"))
        assert timer is not None
        return set(reconciler.memory), timer.cancelled()

    left, cancelled = asyncio.run(scenario())
    assert left == {("web", "shop2")}  # not matched by name prefix
    assert cancelled


async def _never() -> None:
    return None


def test_events_the_core_decides_are_posted_once() -> None:
    calls = Calls()
    posted: list[Event] = []
    steady = decision.decide(site({"replicas": 6}), world(ZONES, EVEN), T0).status
    lost = world(ZONES, {"zone-a": 2, "zone-c": 2}, replicas=EVEN, not_ready=("zone-b",))

    async def scenario() -> None:
        reconciler = Reconciler(kube=calls, post=lambda _b, e: posted.append(e))
        body = body_of(site({"replicas": 6}, steady))
        await reconciler.reconcile(("web", "shop"), body, lost)
        await reconciler.reconcile(("web", "shop"), body, lost)  # the index has not caught up yet

    asyncio.run(scenario())
    assert [e.reason for e in posted].count("ZoneLost") == 1
    assert [e.reason for e in posted].count("Failover") >= 1


def test_a_first_rollouts_progress_is_written_folded() -> None:
    """Two passes a moment apart while a site rolls out for the first time: one status write, and
    a timed pass to write the second one a moment later."""
    calls = Calls()
    new = world(ZONES, {}, replicas={})
    first = decision.decide(site({"replicas": 6}), new, T0).status

    async def scenario() -> tuple[int, float | None]:
        reconciler = Reconciler(kube=calls, post=lambda _b, _e: None)
        body = body_of(site({"replicas": 6}, first))
        await reconciler.reconcile(("web", "shop"), body, world(ZONES, {"zone-a": 1}, replicas=EVEN))
        second = await reconciler.reconcile(("web", "shop"), body, world(ZONES, {"zone-a": 2}, replicas=EVEN))
        return len(calls.statuses), second.wake_after

    writes, wake = asyncio.run(scenario())
    assert writes == 1
    assert wake is not None and 0 < wake <= reconciler_module.PROGRESS_SECONDS


def test_a_phase_change_is_written_at_once() -> None:
    calls = Calls()
    first = decision.decide(site({"replicas": 6}), world(ZONES, {}, replicas={}), T0).status

    async def scenario() -> list[str]:
        reconciler = Reconciler(kube=calls, post=lambda _b, _e: None)
        body = body_of(site({"replicas": 6}, first))
        await reconciler.reconcile(("web", "shop"), body, world(ZONES, {"zone-a": 1}, replicas=EVEN))
        await reconciler.reconcile(("web", "shop"), body, world(ZONES, EVEN))
        return [s["phase"] for s in calls.statuses]

    assert asyncio.run(scenario()) == ["Pending", "Redundant"]


def test_a_status_patch_removes_what_the_new_status_leaves_out() -> None:
    old = {"phase": "Redundant", "rollout": {"phase": "Baking", "readySince": "t", "zonesDone": ["a"]}, "kopf": {}}
    new = {"phase": "Redundant", "rollout": {"phase": "Progressing", "zonesDone": ["a", "b"]}}
    assert merge_patch(old, new) == {
        "kopf": None,
        "phase": "Redundant",
        "rollout": {"readySince": None, "phase": "Progressing", "zonesDone": ["a", "b"]},
    }


def test_a_refused_template_still_moves_replicas_with_each_zone_on_its_own_template() -> None:
    steady = decision.decide(site({"replicas": 6}), world(ZONES, EVEN), T0).status
    new = {"spec": {"containers": [{"name": "web", "image": "refused:1"}]}}
    calls = Calls(refuse_image="refused:1")
    refused = reconcile(
        calls, body_of(site({"replicas": 6, "template": new}, steady, generation=2)), world(ZONES, EVEN)
    )
    assert refused.status["phase"] == "Invalid"
    assert refused.status["rollout"]["phase"] == "Halted"
    assert refused.status["rollout"]["haltReason"] == "TemplateRefused"
    assert "refused:1" not in str(calls.log)
    # The zone is lost while the template is refused: replicas move, the template is not sent again.
    calls = Calls(refuse_image="refused:1")
    lost = world(ZONES, {"zone-a": 2, "zone-c": 2}, replicas=EVEN, not_ready=("zone-b",))
    moved = reconcile(calls, body_of(site({"replicas": 6, "template": new}, refused.status, generation=2)), lost)
    replicas = {m["metadata"]["name"]: m["spec"]["replicas"] for m in moved.apply if m["kind"] == "Deployment"}
    assert replicas == {"shop-zone-a": 3, "shop-zone-b": 2, "shop-zone-c": 3}
    assert [verb for verb, _ in calls.log if verb == "dry-run"]  # went through: nothing refused this time
    assert all(
        m["spec"]["template"]["spec"]["containers"][0]["image"] == "nginx"
        for m in moved.apply
        if m["kind"] == "Deployment"
    )
    assert moved.status["phase"] == "Invalid"
    assert next(z for z in moved.status["zones"] if z["name"] == "zone-b")["healthy"] is False
