"""Capacity that follows load and trouble: kubectl scale and a HorizontalPodAutoscaler on the site,
a zone with no room, an evacuation, zone-local traffic. Each scenario prints the figure docs/benchmarks.md
quotes (run with -s to see them)."""

from __future__ import annotations

import json
import subprocess
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from .cluster import KUBECTL, KubectlError, apply, get, kubectl, status, wait_events, wait_for
from .conftest import needs_kwok, zones
from .faults import NOTICE_S, lose_zone, restore_zone
from .sites import TEMPLATE, manifest, ready_pods, replicas_by_zone, wait_phase

FAST = {"failbackAfterSeconds": 5, "unschedulableAfterSeconds": 5}


def events(ns: str, reason: str) -> list[str]:
    return [
        e["message"]
        for e in get("events", namespace=ns)
        if e["involvedObject"]["name"] == "shop" and e["reason"] == reason
    ]


def ready_by_zone(ns: str) -> dict[str, int]:
    out: dict[str, int] = {}
    for pod in ready_pods(ns, "shop"):
        zone = pod["metadata"]["labels"]["spofless.dev/zone"]
        out[zone] = out.get(zone, 0) + 1
    return out


def even(counts: dict[str, int], total: int, names: list[str]) -> bool:
    values = [counts.get(z, 0) for z in names]
    return sum(values) == total and max(values) - min(values) <= 1


def balanced(ns: str, total: int) -> bool:
    names = zones()
    return even(replicas_by_zone(ns, "shop"), total, names) and even(ready_by_zone(ns), total, names)


def condition(ns: str, kind: str) -> dict[str, Any]:
    return next((c for c in status("shop", ns).get("conditions", []) if c["type"] == kind), {})


def zone_cause(ns: str, zone: str) -> str | None:
    return next((z.get("cause") for z in status("shop", ns).get("zones", []) if z["name"] == zone), None)


# --- kubectl scale --------------------------------------------------------------------------


def test_kubectl_scale_3_9_4_keeps_the_zones_balanced(ns: str) -> None:
    apply(manifest("shop", ns, replicas=3, failover=FAST))
    wait_phase("shop", ns, "Redundant", readyReplicas=3)
    for replicas in (9, 4):
        before = replicas_by_zone(ns, "shop")
        kubectl("scale", "rsite", "shop", "-n", ns, f"--replicas={replicas}")
        wait_for(f"{replicas} balanced ready replicas", lambda r=replicas: balanced(ns, r), timeout=120)  # type: ignore[misc]
        st = wait_phase("shop", ns, "Redundant", readyReplicas=replicas, replicas=replicas)
        after = replicas_by_zone(ns, "shop")
        assert {z["name"]: z["desiredReplicas"] for z in st["zones"]} == after
        scale = json.loads(
            kubectl("get", "--raw", f"/apis/spofless.dev/v1alpha1/namespaces/{ns}/resilientsites/shop/scale")
        )
        assert (scale["spec"]["replicas"], scale["status"]["replicas"]) == (replicas, replicas)
        assert scale["status"]["selector"] == "app.kubernetes.io/managed-by=spofless,spofless.dev/site=shop"
        moves = ", ".join(f"{z} {before[z]}->{after[z]}" for z in sorted(after) if before[z] != after[z])
        wait_for(f"a Scaled event saying {moves}", lambda m=moves: [e for e in events(ns, "Scaled") if e.endswith(m)])  # type: ignore[misc]


def test_below_min_zones_runs_min_zones_and_warns(ns: str) -> None:
    a, b, _ = zones()
    apply(manifest("shop", ns, replicas=1, minZones=2, zones=[a, b], failover=FAST))
    st = wait_phase("shop", ns, "Redundant", readyReplicas=2, replicas=2)
    assert replicas_by_zone(ns, "shop") == {a: 1, b: 1}
    warning = [f for f in st["singlePointsOfFailure"] if f["name"] == "spec.replicas"]
    assert warning and warning[0]["severity"] == "Warning"
    wait_for("a ReplicasBelowMinZones event", lambda: events(ns, "ReplicasBelowMinZones"))


# --- HorizontalPodAutoscaler ----------------------------------------------------------------


@pytest.fixture
def metrics_api() -> None:
    """The resource metrics API answers (hack/cluster.sh up runs metrics-server); a cluster without
    it fails the scenario rather than skipping it."""
    wait_for("the resource metrics API (metrics-server)",
             lambda: kubectl("get", "--raw", "/apis/metrics.k8s.io/v1beta1/nodes"), timeout=120)  # fmt: skip


def usage(ns: str, cpu: str) -> None:
    """Every pod of the namespace uses `cpu` from now on (KWOK's simulated usage)."""
    apply({
        "apiVersion": "kwok.x-k8s.io/v1alpha1",
        "kind": "ClusterResourceUsage",
        "metadata": {"name": ns},
        "spec": {"selector": {"matchNamespaces": [ns]}, "usages": [{"usage": {"cpu": {"value": cpu}, "memory": {"value": "16Mi"}}}]},
    })  # fmt: skip


@pytest.fixture
def usage_cleanup(ns: str) -> Iterator[None]:
    yield
    kubectl("delete", "clusterresourceusage", ns, "--ignore-not-found", check=False)


def scaled_to(ns: str, replicas: int) -> float:
    """Waits until the HPA writes `replicas` into the site's spec; returns when it was seen."""
    wait_for(
        f"the HPA to scale the site to {replicas}",
        lambda: get("rsite", "shop", ns)["spec"]["replicas"] == replicas,
        timeout=180,
    )
    return time.monotonic()


@needs_kwok("simulated CPU usage, its ClusterResourceUsage")
def test_an_hpa_scales_the_site_up_and_down_balanced(ns: str, metrics_api: None, usage_cleanup: None) -> None:
    template = json.loads(json.dumps(TEMPLATE))
    template["spec"]["containers"][0]["resources"] = {"requests": {"cpu": "100m", "memory": "64Mi"}}
    usage(ns, "80m")  # 80 % of the request, above the HPA's 50 % target
    apply(manifest("shop", ns, replicas=3, template=template, failover=FAST))
    wait_phase("shop", ns, "Redundant", readyReplicas=3)
    apply({
        "apiVersion": "autoscaling/v2",
        "kind": "HorizontalPodAutoscaler",
        "metadata": {"name": "shop", "namespace": ns},
        "spec": {
            "scaleTargetRef": {"apiVersion": "spofless.dev/v1alpha1", "kind": "ResilientSite", "name": "shop"},
            "minReplicas": 3,
            "maxReplicas": 9,
            "metrics": [{"type": "Resource", "resource": {"name": "cpu", "target": {"type": "Utilization", "averageUtilization": 50}}}],
            "behavior": {
                "scaleUp": {"stabilizationWindowSeconds": 0, "policies": [{"type": "Pods", "value": 9, "periodSeconds": 5}]},
                "scaleDown": {"stabilizationWindowSeconds": 0, "policies": [{"type": "Pods", "value": 9, "periodSeconds": 5}]},
            },
        },
    })  # fmt: skip
    up = scaled_to(ns, 9)
    wait_for("9 balanced ready replicas", lambda: balanced(ns, 9), timeout=180)
    print(f"HPA decision (spec 3 -> 9 seen) -> 9 balanced ready pods: {time.monotonic() - up:.2f} s")
    wait_phase("shop", ns, "Redundant", readyReplicas=9, replicas=9)

    usage(ns, "10m")  # 10 %: down to minReplicas
    down = scaled_to(ns, 3)
    wait_for("3 balanced ready replicas", lambda: balanced(ns, 3) and len(ready_pods(ns, "shop")) == 3, timeout=180)
    print(f"HPA decision (spec 9 -> 3 seen) -> 3 balanced ready pods: {time.monotonic() - down:.2f} s")
    hpa = wait_for(
        "the HPA to see 3 replicas", lambda: (h := get("hpa", "shop", ns))["status"]["currentReplicas"] == 3 and h
    )
    able = next(c for c in hpa["status"]["conditions"] if c["type"] == "AbleToScale")
    assert able["status"] == "True", able


# --- a zone with no room ----------------------------------------------------------------------


def unschedulable_since(ns: str, zone: str) -> datetime | None:
    for pod in get("pods", namespace=ns, selector=f"spofless.dev/site=shop,spofless.dev/zone={zone}"):
        for cond in pod.get("status", {}).get("conditions", []):
            if cond["type"] == "PodScheduled" and cond.get("reason") == "Unschedulable":
                return datetime.fromisoformat(cond["lastTransitionTime"].replace("Z", "+00:00"))
    return None


def test_a_full_zone_moves_its_share_and_fails_back_with_room(ns: str, healthy_nodes: None) -> None:
    a, b, c = zones()[:3]
    apply(manifest("shop", ns, replicas=6, failover=FAST))
    wait_phase("shop", ns, "Redundant", readyReplicas=6)
    kubectl("cordon", "-l", f"topology.kubernetes.io/zone={b}")  # zone-b keeps its pods but takes no new one
    kubectl("scale", "rsite", "shop", "-n", ns, "--replicas=9")
    since = wait_for(f"a pod of {b} Pending as unschedulable", lambda: unschedulable_since(ns, b))
    wait_for(f"{b} reported full", lambda: zone_cause(ns, b) == "ZoneFull", timeout=60)
    full_seen = datetime.now(UTC)
    wait_for(
        "9 ready replicas in the zones with room",
        lambda: ready_by_zone(ns).get(a, 0) + ready_by_zone(ns).get(c, 0) >= 9,
        timeout=120,
    )
    restored = datetime.now(UTC)
    print(
        f"zone full (pod unschedulable) -> ZoneFull in status: {(full_seen - since).total_seconds():.1f} s "
        f"(threshold 5 s); -> capacity restored elsewhere: {(restored - since).total_seconds():.1f} s"
    )
    assert zone_status_healthy(ns, b), "a full zone's nodes are Ready: it is full, not lost"
    failover = condition(ns, "FailoverActive")
    assert failover["status"] == "True" and failover["reason"] == "ZoneFull", failover
    assert replicas_by_zone(ns, "shop")[b] == 3, "the full zone keeps its share: its pending pods say when room is back"
    wait_events(ns, "ZoneFull", name="shop")

    kubectl("uncordon", "-l", f"topology.kubernetes.io/zone={b}")
    wait_for(f"{b} back in service", lambda: zone_cause(ns, b) is None, timeout=60)
    wait_for("even spread again", lambda: replicas_by_zone(ns, "shop") == {a: 3, b: 3, c: 3}, timeout=120)
    wait_phase("shop", ns, "Redundant", readyReplicas=9, timeout=120)
    wait_events(ns, "ZoneHasRoom", "Failback", name="shop")


def zone_status_healthy(ns: str, zone: str) -> bool:
    return bool(next(z for z in status("shop", ns)["zones"] if z["name"] == zone)["healthy"])


# --- evacuation -----------------------------------------------------------------------------


class LowestReady:
    """Watches the site's pods (a kubectl watch, so no transition is missed between two looks) and
    keeps the lowest count of ready pods seen once the watch has listed every pod there was."""

    FORMAT = (
        '{.type}{" "}{.object.metadata.name}{" "}{.object.metadata.deletionTimestamp}{"|"}'
        '{.object.status.conditions[?(@.type=="Ready")].status}{"\\n"}'
    )

    def __init__(self, ns: str) -> None:
        self.lowest, self.events, self.armed = 10**6, 0, False
        self._ready: dict[str, bool] = {}
        self._before = {p["metadata"]["name"] for p in get("pods", namespace=ns, selector="spofless.dev/site=shop")}
        args = ["get", "pods", "-n", ns, "-l", "spofless.dev/site=shop", "--watch", "--output-watch-events"]
        self._proc = subprocess.Popen(
            [KUBECTL, *args, "-o", f"jsonpath={self.FORMAT}"], stdout=subprocess.PIPE, text=True
        )
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        assert self._proc.stdout is not None
        for line in self._proc.stdout:
            head, _, ready = line.rstrip("\n").partition("|")
            kind, name, *deleting = head.split(" ")
            self._ready[name] = kind != "DELETED" and not any(deleting) and ready == "True"
            self.events += 1
            self.armed = self.armed or self._before <= set(self._ready)
            if self.armed:
                self.lowest = min(self.lowest, sum(self._ready.values()))

    def __enter__(self) -> LowestReady:
        self._thread.start()
        wait_for("the pod watch to list every pod", lambda: self.armed)
        return self

    def __exit__(self, *_: object) -> None:
        self._proc.terminate()
        self._proc.wait(timeout=30)
        self._thread.join(timeout=30)


def rfc3339(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def test_an_evacuation_moves_out_without_a_drop_and_comes_back(ns: str) -> None:
    a, b, c = zones()[:3]
    apply(manifest("shop", ns, replicas=6, failover=FAST))
    wait_phase("shop", ns, "Redundant", readyReplicas=6)
    until = datetime.now(UTC) + timedelta(seconds=60)
    with LowestReady(ns) as watch:
        apply(manifest("shop", ns, replicas=6, failover={**FAST, "evacuate": [{"zone": b, "until": rfc3339(until)}]}))
        wait_for(
            f"{b} emptied",
            lambda: replicas_by_zone(ns, "shop") == {a: 3, b: 0, c: 3} and ready_by_zone(ns).get(b, 0) == 0,
            timeout=120,
        )
        wait_for(
            "state Evacuated, with every replica ready elsewhere",
            lambda: (s := status("shop", ns)).get("evacuations", [{}])[0].get("state") == "Evacuated"
            and s.get("readyReplicas") == 6 and s.get("replicas") == 6,
        )  # fmt: skip
        assert condition(ns, "Evacuation")["reason"] == "Evacuated"
        print(f"evacuation of {b}: lowest ready count {watch.lowest} of 6 over {watch.events} pod events")
        assert watch.lowest >= 6
        wait_events(ns, "Evacuating", name="shop")
    wait_for("the evacuation to end", lambda: status("shop", ns)["evacuations"][0]["state"] == "Ended", timeout=120)
    back = time.monotonic()
    wait_for("even spread again", lambda: replicas_by_zone(ns, "shop") == {a: 2, b: 2, c: 2}, timeout=120)
    wait_phase("shop", ns, "Redundant", readyReplicas=6)
    print(f"evacuation ended -> even spread: {time.monotonic() - back:.1f} s (failback window 5 s)")
    wait_events(ns, "EvacuationEnded", name="shop")


def test_an_evacuation_of_all_but_one_zone_is_refused(ns: str) -> None:
    b, c = zones()[1:3]
    apply(manifest("shop", ns, replicas=6, failover=FAST))
    wait_phase("shop", ns, "Redundant", readyReplicas=6)
    until = rfc3339(datetime.now(UTC) + timedelta(hours=1))
    apply(
        manifest(
            "shop",
            ns,
            replicas=6,
            failover={**FAST, "evacuate": [{"zone": b, "until": until}, {"zone": c, "until": until}]},
        )
    )
    refusal = wait_for(
        "the Evacuation condition refusing", lambda: (x := condition(ns, "Evacuation")).get("reason") == "Refused" and x
    )
    assert refusal["status"] == "False" and "fewer than minZones 2" in refusal["message"], refusal
    assert {e["zone"]: e["state"] for e in status("shop", ns)["evacuations"]}[c] == "Refused"
    wait_for("an EvacuationRefused event", lambda: events(ns, "EvacuationRefused"))
    wait_for(
        f"{c} keeps its share",
        lambda: replicas_by_zone(ns, "shop")[c] >= 2 and replicas_by_zone(ns, "shop")[b] == 0,
        timeout=120,
    )
    bad = manifest("shop", ns, replicas=6, failover={**FAST, "evacuate": [{"zone": b, "until": "tomorrow"}]})
    with pytest.raises(KubectlError, match="until"):
        apply(bad)


# --- zone-local traffic ---------------------------------------------------------------------


def hints(ns: str) -> set[tuple[str | None, tuple[str, ...]]]:
    """(zone, zones hinted) of every ready endpoint of the site's EndpointSlices."""
    out = set()
    for eps in get("endpointslices", namespace=ns, selector="kubernetes.io/service-name=shop"):
        for ep in eps.get("endpoints") or []:
            zones_hinted = tuple(h["name"] for h in (ep.get("hints") or {}).get("forZones") or [])
            out.add((ep.get("zone"), zones_hinted))
    return out


def zone_hinted(ns: str) -> bool:
    found = hints(ns)
    return bool(found) and all(hinted == (zone,) for zone, hinted in found)


def unhinted(ns: str) -> bool:
    found = hints(ns)
    return bool(found) and all(hinted == () for _, hinted in found)


def test_traffic_distribution_is_lifted_during_a_zone_loss_and_restored(ns: str, healthy_nodes: None) -> None:
    b = zones()[1]
    apply(manifest("shop", ns, replicas=6, failover=FAST, service={"trafficDistribution": "PreferSameZone"}))
    wait_phase("shop", ns, "Redundant", readyReplicas=6, trafficDistribution="PreferSameZone")
    assert get("service", "shop", ns)["spec"].get("trafficDistribution") == "PreferSameZone"
    wait_for("zone hints on every endpoint", lambda: zone_hinted(ns))

    lose_zone(b)
    # Lifted as soon as zone-b's pods stop being ready (ShortOfReadyPods), then named for the loss.
    lifted = wait_for(
        "trafficDistribution lifted for the lost zone",
        lambda: (x := condition(ns, "TrafficDistribution")).get("reason") == "ZoneLost" and x,
        60 + NOTICE_S,
    )
    assert lifted["status"] == "False" and b in lifted["message"]
    wait_for("the Service without it", lambda: "trafficDistribution" not in get("service", "shop", ns)["spec"])
    wait_for("no zone hints", lambda: unhinted(ns))
    assert status("shop", ns)["trafficDistribution"] == ""
    # Meanwhile the /scale subresource keeps the scale asked: the lost zone's kept pods are not counted,
    # so an HPA reading it cannot ratchet the site up.
    wait_phase("shop", ns, "Degraded", readyReplicas=6, replicas=6, timeout=120)
    assert sum(replicas_by_zone(ns, "shop").values()) == 8

    restore_zone(b)
    wait_phase("shop", ns, "Redundant", readyReplicas=6, trafficDistribution="PreferSameZone", timeout=120)
    wait_for("zone hints again", lambda: zone_hinted(ns))
    wait_events(ns, "TrafficDistributionLifted", "TrafficDistributionSet", name="shop")
