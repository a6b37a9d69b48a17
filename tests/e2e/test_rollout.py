"""Template changes roll out one zone at a time, halt on a template that never gets ready, and never
stop failover; the site's budget keeps two drains in two zones from taking it down together.

Bad releases are simulated by KWOK stages (hack/kwok/stages.yaml): an image tagged `never-ready`
runs but never passes readiness, one tagged `missing` cannot be pulled."""

from __future__ import annotations

import copy
import os
import subprocess
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest

from spofless.core.model.template import revision

from .cluster import KUBECTL, apply, condition, event_reasons, get, kubectl, status, wait_events, wait_for
from .conftest import KIND, Operator, needs_kwok, zones
from .faults import NOTICE_S, lose_zone, wait_not_ready
from .sites import TEMPLATE, deployments, manifest, ready_pods, replicas_by_zone, wait_phase, wait_rollout

REVISION = "spofless.dev/revision"
FAST = {"bakeSeconds": int(os.environ.get("SPOFLESS_E2E_BAKE_SECONDS", "3")), "progressDeadlineSeconds": 20}


def template(image: str) -> dict[str, Any]:
    out = copy.deepcopy(TEMPLATE)
    out["spec"]["containers"][0]["image"] = image
    return out


def new_release() -> dict[str, Any]:
    """A good new template: a newer image on KWOK; on kind, where only the images loaded into the
    cluster can run, the same image with a new environment."""
    if KIND:
        out = copy.deepcopy(TEMPLATE)
        out["spec"]["containers"][0]["env"] = [{"name": "RELEASE", "value": "2"}]
        return out
    return template("nginx:1.28")


def revisions(ns: str) -> dict[str, str]:
    return {
        z: d["spec"]["template"]["metadata"].get("annotations", {}).get(REVISION, "")
        for z, d in deployments(ns, "shop").items()
    }


def rolled(dep: dict[str, Any]) -> bool:
    """The Deployment has finished rolling to its template: every pod is new and ready."""
    want, st = dep["spec"]["replicas"], dep.get("status") or {}
    return bool(
        st.get("observedGeneration", 0) >= dep["metadata"]["generation"]
        and st.get("updatedReplicas", 0) == want
        and st.get("replicas", 0) == want
        and st.get("readyReplicas", 0) == want
    )


class Sampler:
    """Looks at the site every few tenths of a second in a thread: the lowest count of ready pods,
    and the zones mid-rollout (on the new revision but not rolled) at each look."""

    def __init__(self, ns: str, new_revision: str | None = None) -> None:
        self.ns, self.new = ns, new_revision
        self.lowest_ready: int | None = None
        self.most_mid = 0
        self.order: list[str] = []
        self.looks = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> Sampler:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join(timeout=30)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                ready = len(ready_pods(self.ns, "shop"))
                self.lowest_ready = ready if self.lowest_ready is None else min(self.lowest_ready, ready)
                if self.new is not None:
                    deps = deployments(self.ns, "shop")
                    on_new = [
                        z
                        for z, d in deps.items()
                        if d["spec"]["template"]["metadata"]["annotations"].get(REVISION) == self.new
                    ]
                    self.order += [z for z in sorted(on_new) if z not in self.order]
                    self.most_mid = max(self.most_mid, len([z for z in on_new if not rolled(deps[z])]))
                self.looks += 1
            except Exception:  # a look that failed (the API busy) is no sample
                pass
            self._stop.wait(0.2)


def rollout_events(ns: str, *waited: str) -> list[str]:
    """The site's rollout events, oldest first, once each of `waited` has been posted."""
    seen = wait_events(ns, *waited, name="shop") if waited else event_reasons(ns, "shop")
    return [r for r in seen if r.startswith("Rollout")]


@pytest.fixture
def steady(ns: str, healthy_nodes: None) -> dict[str, Any]:
    """A 6-replica site over three zones, Redundant, its rollout complete."""
    apply(manifest("shop", ns, replicas=6, rollout=FAST))
    wait_phase("shop", ns, "Redundant", readyReplicas=6)
    wait_rollout("shop", ns, "Complete")
    return {"revisions": revisions(ns), "uids": pod_uids(ns)}


def pod_uids(ns: str) -> dict[str, set[str]]:
    out: dict[str, set[str]] = {}
    for pod in get("pods", namespace=ns, selector="spofless.dev/site=shop"):
        out.setdefault(pod["metadata"]["labels"]["spofless.dev/zone"], set()).add(pod["metadata"]["uid"])
    return out


def test_a_good_template_rolls_out_one_zone_at_a_time(ns: str, steady: dict[str, Any]) -> None:
    site = manifest("shop", ns, replicas=6, rollout=FAST)
    site["spec"]["template"] = new_release()
    started = time.monotonic()
    apply(site)
    new = revision(site["spec"]["template"])
    with Sampler(ns, new) as sampler:
        wait_rollout("shop", ns, "Complete", timeout=180)
        took = time.monotonic() - started
    print(
        f"3-zone rollout of 6 replicas, bake {FAST['bakeSeconds']} s: {took:.1f} s; lowest ready {sampler.lowest_ready}"
    )
    assert sampler.looks >= 3  # a loaded machine looks less often; the checks below need a few looks
    assert sampler.most_mid <= 1, "two zones were mid-rollout at once"
    assert sampler.lowest_ready is not None and sampler.lowest_ready >= 6 - 1
    assert took >= 3 * FAST["bakeSeconds"]
    assert set(revisions(ns).values()) == {new}
    st = wait_phase("shop", ns, "Redundant", readyReplicas=6)
    assert st["rollout"]["zonesDone"] == sorted(zones()[:3]) and st["rollout"]["zonesPending"] == []
    reasons = rollout_events(ns, "RolloutComplete")
    assert reasons.count("RolloutZone") == 3 and "RolloutHalted" not in reasons


def lose_zone_and_see_replicas_move(ns: str, lost: str, during: str) -> None:
    """Takes zone `lost` down; the site reports it (the time is printed) and its 6 replicas move out."""
    down = lose_zone(lost)
    wait_for(
        f"{lost} reported lost",
        lambda: not next(z for z in status("shop", ns)["zones"] if z["name"] == lost)["healthy"],
        60 + NOTICE_S,
    )
    print(f"zone loss during {during} -> status: {time.monotonic() - down:.1f} s")
    wait_for("replicas moved", lambda: sum(n for z, n in replicas_by_zone(ns, "shop").items() if z != lost) == 6)


@needs_kwok("an image that runs but never gets ready, its pod stage")
def test_a_bad_template_halts_in_the_first_zone_and_rolls_it_back(ns: str, steady: dict[str, Any]) -> None:
    site = manifest("shop", ns, replicas=6, rollout=FAST)
    site["spec"]["template"] = template("nginx:never-ready")
    with Sampler(ns) as sampler:
        started = time.monotonic()
        apply(site)
        halted = wait_rollout("shop", ns, "Halted", timeout=120)
        took = time.monotonic() - started
        first = halted["haltedZone"]
        wait_for(f"{first} back on the old revision", lambda: revisions(ns) == steady["revisions"])
    print(f"bad template -> halt: {took:.1f} s (progress deadline {FAST['progressDeadlineSeconds']} s)")
    assert halted["haltReason"] == "ProgressDeadlineExceeded"
    assert took < FAST["progressDeadlineSeconds"] + 30
    assert sampler.lowest_ready is not None and sampler.lowest_ready >= 6  # the old pods never stopped serving
    others = {z: uids for z, uids in pod_uids(ns).items() if z != first}
    assert others == {z: u for z, u in steady["uids"].items() if z != first}, "a zone not reached was touched"
    halt = condition("shop", ns, "RolloutHalted")
    assert halt["status"] == "True" and halt["reason"] == "ProgressDeadlineExceeded"
    wait_events(ns, "RolloutHalted", "RolloutRolledBack", name="shop")
    warnings = {e["reason"] for e in get("events", namespace=ns) if e["type"] == "Warning"}
    assert {"RolloutHalted", "RolloutRolledBack"} <= warnings
    st = wait_phase("shop", ns, "Redundant", readyReplicas=6)
    assert st["spof"] is False  # a halted rollout is no single point of failure in itself

    # A zone lost while the rollout is halted: capacity still moves.
    lost = next(z for z in zones()[:3] if z != first)
    lose_zone_and_see_replicas_move(ns, lost, "a halted rollout")
    assert wait_rollout("shop", ns, "Halted")["targetRevision"] == halted["targetRevision"]
    assert revisions(ns) == steady["revisions"]  # moving replicas re-sent no bad template

    # A new template starts a new rollout, which the lost zone waits for.
    site["spec"]["template"] = new_release()
    apply(site)
    wait_rollout("shop", ns, "Waiting")


def test_a_refused_template_still_fails_over_and_keeps_the_status_live(ns: str, steady: dict[str, Any]) -> None:
    site = manifest("shop", ns, replicas=6, rollout=FAST)
    site["spec"]["template"] = new_release()
    site["spec"]["template"]["spec"]["containers"][0]["name"] = "Web_1"  # no DNS label: a Deployment refuses it
    apply(site)
    st = wait_phase("shop", ns, "Invalid", timeout=30)
    assert st["rollout"]["haltReason"] == "TemplateRefused" and "Web_1" in st["rollout"]["message"]
    lost = zones()[1]
    lose_zone_and_see_replicas_move(ns, lost, "a refused template")
    wait_for(
        "the moved replicas ready, in the status", lambda: status("shop", ns).get("readyReplicas") == 6, timeout=90
    )
    assert status("shop", ns)["phase"] == "Invalid"
    names = {d["spec"]["template"]["spec"]["containers"][0]["name"] for d in deployments(ns, "shop").values()}
    assert names == {"web"}, "the refused template was written somewhere"


def test_an_image_that_cannot_be_pulled_halts_at_once(ns: str, steady: dict[str, Any]) -> None:
    site = manifest("shop", ns, replicas=6, rollout={**FAST, "progressDeadlineSeconds": 600})
    site["spec"]["template"] = template("nginx:missing")
    started = time.monotonic()
    apply(site)
    halted = wait_rollout("shop", ns, "Halted", timeout=60)
    print(f"unpullable image -> halt: {time.monotonic() - started:.1f} s")
    assert halted["haltReason"] == "PodsFailing"
    # The resume annotation tries again (and halts again: the image is still missing).
    kubectl("annotate", "rsite", "shop", "-n", ns, "spofless.dev/resume-rollout=1", "--overwrite")
    wait_for("the resume to be acted on", lambda: status("shop", ns)["rollout"].get("resumed") == "1")
    rollout_events(ns, "RolloutResumed")


def test_the_operator_killed_mid_rollout_resumes_at_the_same_zone(
    ns: str, steady: dict[str, Any], own_operator: Operator
) -> None:
    site = manifest("shop", ns, replicas=6, rollout={"bakeSeconds": 8, "progressDeadlineSeconds": 60})
    site["spec"]["template"] = new_release()
    apply(site)
    first = wait_rollout("shop", ns, "Baking")["zoneInProgress"]
    new = status("shop", ns)["rollout"]["targetRevision"]
    with Sampler(ns, new) as sampler:
        own_operator.kill()  # SIGKILL while the first zone bakes
        own_operator.start("--standalone")
        own_operator.wait_alive()
        wait_rollout("shop", ns, "Complete", timeout=180)
    assert sampler.most_mid <= 1
    assert sampler.order[0] == first and len(sampler.order) == len(set(sampler.order)) == 3
    assert rollout_events(ns, "RolloutComplete").count("RolloutZone") == 3  # no zone started twice


@pytest.fixture
def uncordon() -> Iterator[None]:
    yield
    kubectl("uncordon", "--selector", "topology.kubernetes.io/zone", check=False)


@needs_kwok("spare nodes in every zone to drain onto; the kind cluster has one worker per zone")
def test_two_drains_in_two_zones_leave_the_site_standing(ns: str, healthy_nodes: None, uncordon: None) -> None:
    apply(manifest("shop", ns, replicas=3))  # one pod per zone: the site a per-zone budget let down
    wait_phase("shop", ns, "Redundant", readyReplicas=3)
    wait_for(
        "the budget to be computed", lambda: (get("pdb", "shop", ns).get("status") or {}).get("disruptionsAllowed") == 1
    )
    pods = {p["metadata"]["labels"]["spofless.dev/zone"]: p["spec"]["nodeName"] for p in ready_pods(ns, "shop")}
    a, b = sorted(pods)[:2]
    with Sampler(ns) as sampler:
        drains = [
            subprocess.Popen([KUBECTL, "drain", pods[z], "--ignore-daemonsets", "--delete-emptydir-data", "--timeout=150s"],
                             stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
            for z in (a, b)
        ]  # fmt: skip
        outputs = [d.communicate(timeout=200)[0] for d in drains]
        wait_phase("shop", ns, "Redundant", readyReplicas=3)
    print(f"two drains in two zones: lowest ready {sampler.lowest_ready} of 3 ({sampler.looks} looks)")
    assert all(d.returncode == 0 for d in drains), outputs
    assert sampler.lowest_ready is not None and sampler.lowest_ready >= 2, "two zones lost a pod at the same time"


def test_a_budget_of_the_per_zone_design_is_deleted_so_no_pod_has_two(ns: str, healthy_nodes: None) -> None:
    apply(manifest("shop", ns, replicas=3))
    wait_phase("shop", ns, "Redundant", readyReplicas=3)
    zone = zones()[0]
    old = {
        "apiVersion": "policy/v1",
        "kind": "PodDisruptionBudget",
        "metadata": {
            "name": f"shop-{zone}",
            "namespace": ns,
            "labels": {
                "app.kubernetes.io/managed-by": "spofless",
                "spofless.dev/site": "shop",
                "spofless.dev/zone": zone,
            },
        },
        "spec": {
            "maxUnavailable": 1,
            "selector": {"matchLabels": {"spofless.dev/site": "shop", "spofless.dev/zone": zone}},
        },
    }
    apply(old)
    wait_for("the old budget to go", lambda: get("pdb", f"shop-{zone}", ns) is None)
    assert get("pdb", "shop", ns) is not None


def test_deployments_of_an_older_version_keep_their_template_and_still_scale(
    ns: str, healthy_nodes: None, own_operator: Operator
) -> None:
    """Deployments without revisions (made before rollouts existed, as after an upgrade) are rolled
    zone by zone like any change; meanwhile a zone loss still moves replicas, written through the
    scale subresource with their templates untouched."""
    apply(manifest("shop", ns, replicas=6, rollout={"bakeSeconds": 60}))
    wait_phase("shop", ns, "Redundant", readyReplicas=6, timeout=180)
    own_operator.kill()  # what an older version left behind, made while no operator runs
    try:
        for dep in deployments(ns, "shop").values():
            kubectl("annotate", "deployment", dep["metadata"]["name"], "-n", ns, "spofless.dev/template-")
            kubectl("patch", "deployment", dep["metadata"]["name"], "-n", ns, "--type=json", "-p",
                    '[{"op": "remove", "path": "/spec/template/metadata/annotations/spofless.dev~1revision"}]')  # fmt: skip
        lost = zones()[1]
        lose_zone(lost)
        wait_not_ready(lost)
    finally:
        own_operator.start("--standalone")
        own_operator.wait_alive()
    wait_for("replicas moved", lambda: sum(n for z, n in replicas_by_zone(ns, "shop").items() if z != lost) == 6)
    assert all(not r for r in revisions(ns).values()), "a template was re-sent to a zone it was not rolled to"
    assert wait_rollout("shop", ns, "Waiting")["zonesPending"]  # no zone starts while one is lost
