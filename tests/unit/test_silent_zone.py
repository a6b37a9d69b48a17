"""A zone judged silent, as one site acts on it: out of service at once (cause ZoneSilent), its
ready pods taken out of the Service while enough serve elsewhere, its Deployment kept, leftovers
evicted once it renews again, and an opt-out."""

from __future__ import annotations

import dataclasses

from spofless.core.observed.records import Observed, ZoneSilence
from spofless.core.site.decision import Decision, decide

from .builders import T0, ZONE_KEY, site, world

ZONES = {"zone-a": 3, "zone-b": 3, "zone-c": 3}
EVEN = {"zone-a": 2, "zone-b": 2, "zone-c": 2}


def silent(observed: Observed, zone: str | None = "zone-b", seconds: float = 13, **more: object) -> Observed:
    return dataclasses.replace(observed, silence=ZoneSilence(ZONE_KEY, zone, seconds, **more))  # type: ignore[arg-type]


def steady(spec: dict[str, object] | None = None) -> dict[str, object]:
    return decide(site(spec or {"replicas": 6}), world(ZONES, EVEN), T0).status


def test_a_silent_zone_is_out_of_service_at_once_and_its_pods_leave_the_service() -> None:
    result = decide(site({"replicas": 6}, steady()), silent(world(ZONES, EVEN)), T0)
    zone_b = next(z for z in result.status["zones"] if z["name"] == "zone-b")
    assert zone_b["cause"] == "ZoneSilent"
    assert result.unready == ["shop-zone-b-0", "shop-zone-b-1"]
    replicas = {m["metadata"]["name"]: m["spec"]["replicas"] for m in result.apply if m["kind"] == "Deployment"}
    assert replicas["shop-zone-a"] + replicas["shop-zone-c"] == 6, "the silent zone's share moves at once"
    assert replicas["shop-zone-b"] == 2, "its Deployment keeps its replicas: its pods may still serve"
    assert "ZoneSilent" in [e.reason for e in result.events]
    assert result.status["readyReplicas"] == 4, "the silent zone's pods no longer count as ready"


def test_no_pod_is_touched_while_too_few_serve_elsewhere() -> None:
    """zone-a has one ready pod of its two: 3 ready outside, fewer than minZones (2) x the share (2)."""
    observed = silent(world(ZONES, {"zone-a": 1, "zone-b": 2, "zone-c": 2}, replicas=EVEN))
    result = decide(site({"replicas": 6}, steady()), observed, T0)
    assert result.unready == []
    assert any(z.get("cause") == "ZoneSilent" for z in result.status["zones"]), "the moves still start"


def test_a_site_that_opted_out_waits_for_notready() -> None:
    spec = {"replicas": 6, "failover": {"silentZone": {"enabled": False}}}
    result = decide(site(spec, steady(spec)), silent(world(ZONES, EVEN)), T0)
    assert result.unready == [] and not any(z.get("cause") for z in result.status["zones"])


def test_a_site_with_a_longer_wait_acts_later_and_asks_to_be_woken() -> None:
    spec = {"replicas": 6, "failover": {"silentZone": {"afterSeconds": 20}}}
    early = decide(site(spec, steady(spec)), silent(world(ZONES, EVEN), seconds=13), T0)
    assert early.unready == [] and early.wake_after is not None and 6 <= early.wake_after <= 7
    late = decide(site(spec, steady(spec)), silent(world(ZONES, EVEN), seconds=21), T0)
    assert late.unready == ["shop-zone-b-0", "shop-zone-b-1"]


def test_a_lost_zone_is_lost_not_silent() -> None:
    observed = silent(world(ZONES, {"zone-a": 2, "zone-c": 2}, replicas=EVEN, not_ready=("zone-b",)))
    result = decide(site({"replicas": 6}, steady()), observed, T0)
    assert next(z for z in result.status["zones"] if z["name"] == "zone-b")["cause"] == "ZoneLost"
    assert result.unready == []


def test_pods_still_marked_after_their_zone_renewed_a_while_are_evicted() -> None:
    base = world(ZONES, EVEN)
    marked = tuple(
        dataclasses.replace(p, ready=False, unready_by_us=True) if p.zone == "zone-b" else p for p in base.pods
    )
    just_back = silent(dataclasses.replace(base, pods=marked), zone=None, recovered_for={"zone-b": 5.0})
    assert decide(site({"replicas": 6}, steady()), just_back, T0).evict == []
    settled = silent(dataclasses.replace(base, pods=marked), zone=None, recovered_for={"zone-b": 40.0})
    assert decide(site({"replicas": 6}, steady()), settled, T0).evict == ["shop-zone-b-0", "shop-zone-b-1"]


def test_a_silence_a_kubelet_contradicted_is_announced() -> None:
    during: Decision = decide(site({"replicas": 6}, steady()), silent(world(ZONES, EVEN)), T0)
    after = decide(
        site({"replicas": 6}, during.status), silent(world(ZONES, EVEN), zone=None, held_off=("zone-b",)), T0
    )
    assert "ZoneSilenceContradicted" in [e.reason for e in after.events]
    assert not any(z.get("cause") for z in after.status["zones"])
