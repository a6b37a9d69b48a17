"""Narrow wiring tests of the writer (the reconciler) with an in-process stand-in for the API calls."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping
from datetime import timedelta
from typing import Any

import pytest
from kubernetes_asyncio.client.exceptions import ApiException

from spofless.core.model.events import Event
from spofless.core.observed.records import Child, Observed
from spofless.core.site import decision
from spofless.kube import Api, Refused
from spofless.operator.leader import Leadership
from spofless.operator.reconciler import Reconciler, covers, merge_patch

from .builders import T0, site, world
from .test_status_fold import MOVED, SPEC, outage

ZONES = {"zone-a": 3, "zone-b": 3, "zone-c": 3}
EVEN = {"zone-a": 2, "zone-b": 2, "zone-c": 2}


async def _let_others_run() -> None:
    """One turn of the event loop, as a real request's await gives: concurrent applies overlap."""
    turn = asyncio.get_running_loop().create_future()
    asyncio.get_running_loop().call_soon(turn.set_result, None)
    await turn


class Calls:
    """Records the calls; `refuse` makes a real (non dry-run) or dry-run apply of that kind fail."""

    def __init__(self, refuse: str | None = None, fail: str | None = None, refuse_image: str | None = None) -> None:
        self.log: list[tuple[str, Any]] = []
        self.refuse, self.fail, self.refuse_image = refuse, fail, refuse_image
        self.statuses: list[dict[str, Any]] = []
        self.status_written = asyncio.Event()  # set on every status write, for tests to wait on
        self.version = 100  # resourceVersions this stand-in hands out
        self.in_flight = 0
        self.started_with: list[int] = []  # applies in flight as each began, itself included

    async def apply(self, manifest: dict[str, Any], dry_run: bool = False) -> dict[str, Any]:
        images = [c["image"] for c in manifest["spec"].get("template", {}).get("spec", {}).get("containers", [])]
        if manifest["kind"] == self.refuse or (self.refuse_image is not None and self.refuse_image in images):
            raise Refused(manifest["kind"], manifest["metadata"]["name"], "spec.template: Invalid value")
        if manifest["kind"] == self.fail and not dry_run:
            raise ApiException(status=500, reason="Internal Server Error")
        self.in_flight += 1
        self.started_with.append(self.in_flight)
        await _let_others_run()
        self.in_flight -= 1
        self.log.append(("dry-run" if dry_run else "apply", manifest["metadata"]["name"]))
        self.version += 1
        return {**manifest, "metadata": {**manifest["metadata"], "resourceVersion": str(self.version)}}

    async def delete(self, kind: str, namespace: str, name: str) -> None:
        self.log.append(("delete", name))

    async def patch_status(self, namespace: str, name: str, status: dict[str, Any]) -> dict[str, Any]:
        self.log.append(("status", status.get("phase", "")))
        self.statuses.append(status)
        self.status_written.set()
        self.version += 1
        return {"metadata": {"name": name, "namespace": namespace, "resourceVersion": str(self.version)}}

    async def close(self) -> None:
        self.log.append(("close", ""))

    async def scale(self, namespace: str, name: str, replicas: int) -> str:
        self.log.append(("scale", (name, replicas)))
        self.version += 1
        return str(self.version)

    async def post_event(self, involved: Mapping[str, Any], event: Event, component: str, instance: str) -> None:
        self.log.append(("event", event.reason))

    async def mark_unready(self, namespace: str, pod: str, reason: str, message: str) -> str:
        self.log.append(("unready", pod))
        self.version += 1
        return str(self.version)

    async def evict(self, namespace: str, pod: str) -> None:
        self.log.append(("evict", pod))

    async def get_lease(self, namespace: str, name: str) -> dict[str, Any] | None:
        return None

    async def put_lease(self, namespace: str, lease: dict[str, Any]) -> dict[str, Any]:
        return lease


def _implements_the_protocol(calls: Calls) -> Api:
    return calls  # mypy checks the stand-in against the real client's Protocol here


def body_of(s: decision.Site) -> dict[str, Any]:
    return {
        "apiVersion": "spofless.dev/v1alpha1", "kind": "ResilientSite",
        "metadata": {"name": s.name, "namespace": s.namespace, "uid": s.uid, "generation": s.generation},
        "spec": s.spec, "status": s.status,
    }  # fmt: skip


def writer(calls: Calls, post: Callable[[Mapping[str, Any], Event], None] = lambda _b, _e: None) -> Reconciler:
    return Reconciler(kube=calls, post=post, leadership=Leadership("test", always=True))


def reconcile(calls: Calls, body: dict[str, Any], observed: Observed) -> decision.Decision:
    return asyncio.run(writer(calls).reconcile(("web", "shop"), body, observed, T0))


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


def test_a_new_site_makes_its_first_deployment_alone_then_the_rest_at_once() -> None:
    calls = Calls()
    empty = world(ZONES, {}, replicas={})
    reconcile(calls, body_of(site({"replicas": 6})), Observed(nodes=empty.nodes))
    assert calls.started_with == [1, 1, 2, 3, 4]
    assert calls.log[0] == ("apply", "shop-zone-a")


def test_a_new_site_whose_template_is_refused_makes_no_deployment() -> None:
    calls = Calls(refuse="Deployment")
    empty = world(ZONES, {}, replicas={})
    result = reconcile(calls, body_of(site({"replicas": 6})), Observed(nodes=empty.nodes))
    assert result.status["phase"] == "Invalid"
    assert not [name for verb, name in calls.log if verb == "apply" and name.startswith("shop-zone-")]


def test_a_change_to_existing_children_is_dry_run_whole_first() -> None:
    calls = Calls()
    reconcile(calls, body_of(site({"replicas": 6})), world(ZONES, EVEN))
    verbs = [v for v, _ in calls.log]
    assert verbs == ["dry-run"] * 5 + ["apply"] * 5 + ["status"]
    assert set(calls.started_with) == {1}  # one at a time: a rollout writes in order


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


def test_a_failed_apply_is_reported_in_the_status_and_raised_for_a_retry() -> None:
    calls = Calls(fail="Service")
    with pytest.raises(ApiException):
        reconcile(calls, body_of(site({"replicas": 6})), world(ZONES, EVEN))
    applied = [name for verb, name in calls.log if verb == "apply"]
    assert applied[:4] == ["shop-zone-a", "shop-zone-b", "shop-zone-c", "shop"]  # pods first, then the budget
    reconciled = next(c for c in calls.statuses[-1]["conditions"] if c["type"] == "Reconciled")
    assert (reconciled["status"], reconciled["reason"]) == ("False", "ApplyFailed")
    assert "500" in reconciled["message"]


def test_events_the_core_decides_are_posted_once() -> None:
    calls = Calls()
    posted: list[Event] = []
    steady = decision.decide(site({"replicas": 6}), world(ZONES, EVEN), T0).status
    lost = world(ZONES, {"zone-a": 2, "zone-c": 2}, replicas=EVEN, not_ready=("zone-b",))

    async def scenario() -> None:
        reconciler = writer(calls, lambda _b, e: posted.append(e))
        body = body_of(site({"replicas": 6}, steady))
        await reconciler.reconcile(("web", "shop"), body, lost, T0)
        await reconciler.reconcile(("web", "shop"), body, lost, T0)  # the index has not caught up yet

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
        reconciler = writer(calls)
        body = body_of(site({"replicas": 6}, first))
        await reconciler.reconcile(("web", "shop"), body, world(ZONES, {"zone-a": 1}, replicas=EVEN), T0)
        second = await reconciler.reconcile(("web", "shop"), body, world(ZONES, {"zone-a": 2}, replicas=EVEN), T0)
        return len(calls.statuses), second.wake_after

    writes, wake = asyncio.run(scenario())
    assert writes == 1
    assert wake is not None and 0 < wake <= decision.PROGRESS_SECONDS


def test_a_phase_change_is_written_at_once() -> None:
    calls = Calls()
    first = decision.decide(site({"replicas": 6}), world(ZONES, {}, replicas={}), T0).status

    async def scenario() -> list[str]:
        reconciler = writer(calls)
        body = body_of(site({"replicas": 6}, first))
        await reconciler.reconcile(("web", "shop"), body, world(ZONES, {"zone-a": 1}, replicas=EVEN), T0)
        await reconciler.reconcile(("web", "shop"), body, world(ZONES, EVEN), T0)
        return [s.get("phase", "(unchanged)") for s in calls.statuses]

    # The first write reports progress (the phase stays Pending, so the patch leaves it out); the
    # second, a moment later, is not held back: the phase changed.
    assert asyncio.run(scenario()) == ["(unchanged)", "Redundant"]


def test_a_status_patch_removes_what_the_new_status_leaves_out_and_sends_only_changes() -> None:
    old = {"phase": "Redundant", "rollout": {"phase": "Baking", "readySince": "t", "zonesDone": ["a"]}, "kopf": {}}
    new = {"phase": "Redundant", "rollout": {"phase": "Progressing", "zonesDone": ["a", "b"]}}
    assert merge_patch(old, new) == {  # what did not change is not sent: the patch stays small
        "kopf": None,
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


def test_a_change_of_counts_alone_waits_when_the_operator_folds_them() -> None:
    """`spofless run --fold-counts 10`: a zone's pod ready again a moment after the zone's return is
    written by a timed pass, folded; without the flag, at once."""
    *_, moved, back, _ready = outage()  # the core's own statuses, decided at T0+20, T0+60 and T0+62
    back_world = world(ZONES, {"zone-a": 2, "zone-c": 1}, replicas=MOVED)
    ready_world = world(ZONES, {"zone-a": 2, "zone-b": 1, "zone-c": 1}, replicas=MOVED)

    def writes(fold: float) -> tuple[int, float | None]:
        calls = Calls()

        async def scenario() -> float | None:
            reconciler = writer(calls)
            reconciler.fold_counts = fold
            key, at = ("web", "shop"), T0 + timedelta(seconds=60)
            await reconciler.reconcile(key, body_of(site(SPEC, moved.status)), back_world, at)
            at += timedelta(seconds=2)
            second = await reconciler.reconcile(key, body_of(site(SPEC, back.status)), ready_world, at)
            return second.wake_after

        wake = asyncio.run(scenario())
        return len(calls.statuses), wake

    assert writes(0.0)[0] == 2
    folded, wake = writes(10.0)
    assert folded == 1 and wake is not None and 0 < wake <= 10.0
