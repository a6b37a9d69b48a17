"""The fleet round: statuses of every site first, then the moves; a newer change starts over."""

import asyncio

from spofless.core.model.events import Event
from spofless.core.site import decision
from spofless.operator import fleet
from spofless.operator.fleet import Fleet
from spofless.operator.reconciler import Reconciler

from .builders import T0, site, world
from .test_reconciler_wiring import Calls, body_of

ZONES = {"zone-a": 3, "zone-b": 3, "zone-c": 3}
EVEN = {"zone-a": 2, "zone-b": 2, "zone-c": 2}


def test_every_status_is_written_before_any_move() -> None:
    log: list[tuple[str, bool]] = []

    async def run_pass(key: tuple[str, str], status_only: bool) -> None:
        await asyncio.sleep(0)  # a pass yields to the loop on its API calls
        log.append((key[1], status_only))

    async def main() -> None:
        f = Fleet()
        f.touch(lambda: [("ns", f"s{i}") for i in range(40)], run_pass)
        assert f._worker is not None
        await f._worker

    asyncio.run(main())
    assert [s for _, s in log] == [True] * 40 + [False] * 40


def test_a_change_during_a_round_starts_over_with_statuses_and_caps_the_passes_in_flight() -> None:
    log: list[tuple[str, bool]] = []
    in_flight, peak = 0, 0

    async def main() -> None:
        f = Fleet()

        async def run_pass(key: tuple[str, str], status_only: bool) -> None:
            nonlocal in_flight, peak
            in_flight += 1
            peak = max(peak, in_flight)
            await asyncio.sleep(0)  # in flight across a yield, as on its API calls
            in_flight -= 1
            log.append((key[1], status_only))
            if key[1] == "s5" and not status_only and len(log) < 100:
                f.touch(sites, run_pass)  # a second node turns NotReady mid-round

        def sites() -> list[tuple[str, str]]:
            return [("ns", f"s{i}") for i in range(50)]

        f.touch(sites, run_pass)
        assert f._worker is not None
        await f._worker

    asyncio.run(main())
    assert 1 < peak <= fleet.CONCURRENCY  # passes overlap, and no more than the cap at once
    first_full = next(i for i, (_, s) in enumerate(log) if not s)
    restart = next(i for i, (_, s) in enumerate(log) if s and i > first_full)
    assert all(s for _, s in log[restart : restart + 50])  # every status again, before more moves
    assert [s for _, s in log[-50:]] == [False] * 50  # and the moves of every site to finish


def test_a_status_only_pass_reports_the_loss_and_moves_nothing() -> None:
    calls = Calls()
    events: list[Event] = []
    reconciler = Reconciler(kube=calls, post=lambda _b, e: events.append(e))
    steady = decision.decide(site({"replicas": 6}), world(ZONES, EVEN), T0).status
    lost = world(ZONES, {"zone-a": 2, "zone-c": 2}, replicas=EVEN, not_ready=("zone-b",))
    body = body_of(site({"replicas": 6}, steady))
    asyncio.run(reconciler.reconcile(("web", "shop"), body, lost, status_only=True))
    assert [v for v, _ in calls.log] == ["status"]
    assert {e.reason for e in events} == {"ZoneLost"}
    assert not any(z["healthy"] for z in calls.statuses[-1]["zones"] if z["name"] == "zone-b")
    events.clear()
    asyncio.run(reconciler.reconcile(("web", "shop"), body, lost))
    assert "apply" in [v for v, _ in calls.log]
    assert {e.reason for e in events} == {"Failover"}  # the loss is not announced twice


def test_a_status_only_pass_leaves_a_failback_to_the_full_pass_that_announces_it() -> None:
    calls = Calls()
    events: list[Event] = []
    reconciler = Reconciler(kube=calls, post=lambda _b, e: events.append(e))
    spec = {"replicas": 6, "failover": {"failbackAfterSeconds": 5}}
    steady = decision.decide(site(spec), world(ZONES, EVEN), T0).status
    down = world(ZONES, {"zone-a": 3, "zone-c": 3}, replicas=EVEN, not_ready=("zone-b",))
    lost = decision.decide(site(spec, steady), down, T0).status
    moved = {"zone-a": 3, "zone-b": 2, "zone-c": 3}
    back = world(ZONES, moved, replicas=moved)  # zone-b back, its pods ready
    early = decision.decide(site(spec, lost), back, T0).status  # back since T0, long past the window now
    body = body_of(site(spec, early))
    asyncio.run(reconciler.reconcile(("web", "shop"), body, back, status_only=True))
    assert calls.log == [] and events == []  # nothing written: the failback is the full pass's
    asyncio.run(reconciler.reconcile(("web", "shop"), body, back))
    assert "apply" in [v for v, _ in calls.log]
    assert "Failback" in {e.reason for e in events}
