"""The operator is no single point of failure itself: two replicas elect a leader through a Lease;
only the leader writes; a standby takes over when the leader dies; and a leader that loses the Lease
writes nothing more, from any path or timer (the API server's audit log is the witness)."""

from __future__ import annotations

import json
import os
import signal
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from .cluster import apply, get, kubectl, status, stays, wait_for
from .conftest import LOGS, Operator, zones
from .faults import NOTICE_S, lose_zone, restore_zone, wait_not_ready
from .sites import deployments, manifest, replicas_by_zone, wait_phase

LEASE = ("spofless-system", "spofless")  # what the chart's Role lets the operator's account renew
AUDIT_LOG = os.environ.get("SPOFLESS_AUDIT_LOG", "")
WRITES = {"create", "update", "patch", "delete"}


def holder() -> str:
    lease = get("lease", LEASE[1], LEASE[0]) or {}
    return str((lease.get("spec") or {}).get("holderIdentity") or "")


def identity(op: Operator) -> str:
    """What the replica calls itself in the Lease: its host and pid (no POD_NAME outside a pod)."""
    assert op.proc is not None
    return f"{os.uname().nodename}-{op.proc.pid}"


@pytest.fixture
def elected(own_operator: Operator) -> Iterator[tuple[Operator, Operator]]:
    """Two replicas electing a leader, the first started first (it leads); the suite's standalone
    operator steps aside meanwhile."""
    own_operator.kill()
    first, second = Operator(_dir("first")), Operator(_dir("second"))
    try:
        first.start()
        first.wait_alive()
        wait_for("the first replica to hold the Lease", lambda: holder() == identity(first), timeout=60)
        second.start()
        second.wait_alive()
        yield first, second
    finally:
        for op in (first, second):
            if op.proc is not None and op.proc.poll() is None:
                op.proc.send_signal(signal.SIGCONT)
            op.kill()
        own_operator.start("--standalone")
        own_operator.wait_alive()


def _dir(name: str) -> Path:
    path = LOGS / name
    path.mkdir(parents=True, exist_ok=True)
    return path


def test_only_the_leader_writes_and_a_standby_takes_over(ns: str, healthy_nodes: None,
                                                         elected: tuple[Operator, Operator]) -> None:  # fmt: skip
    leader, standby = elected
    apply(manifest("shop", ns, replicas=3))
    wait_phase("shop", ns, "Redundant", readyReplicas=3)
    assert f"applied Deployment {ns}/" in leader.log_tail(400)
    assert f"{ns}/" not in standby.log_tail(400), "the standby wrote while the leader ran"

    leader.kill()  # SIGKILL: no release of the Lease, the standby must wait for it to run out
    killed = time.monotonic()
    zone = sorted(deployments(ns, "shop"))[0]
    kubectl("scale", "deployment", deployments(ns, "shop")[zone]["metadata"]["name"], "-n", ns, "--replicas=4")
    wait_for("the standby to repair the hand edit", lambda: replicas_by_zone(ns, "shop")[zone] == 1, timeout=90)
    print(f"standby takeover after SIGKILL of the leader: {time.monotonic() - killed:.1f} s")
    assert holder() == identity(standby)
    assert f"scaled Deployment {ns}/" in standby.log_tail(400) or f"applied Deployment {ns}/" in standby.log_tail(400)


def test_a_leader_demoted_mid_failover_writes_nothing_afterwards(ns: str, healthy_nodes: None,
                                                                 elected: tuple[Operator, Operator]) -> None:  # fmt: skip
    """The leader fails a site over, its zone comes back and the failback window starts; the leader
    then freezes past its Lease (a long GC pause, a partition), the standby takes over, and the zone is
    lost again. When the old leader wakes up, its timers fire on what it remembered: it must write
    nothing, or it would scale healthy zones down mid-outage."""
    old, new = elected
    a, b = zones()[0], zones()[1]
    apply(manifest("shop", ns, replicas=6, failover={"failbackAfterSeconds": 40}))
    wait_phase("shop", ns, "Redundant", readyReplicas=6)

    lose_zone(b)
    wait_not_ready(b)
    wait_for("the failover", lambda: replicas_by_zone(ns, "shop")[a] == 3, timeout=60 + NOTICE_S)
    restore_zone(b)
    wait_for("zone b back in the status", lambda: all(z["healthy"] for z in status("shop", ns)["zones"]), 60 + NOTICE_S)

    old.proc.send_signal(signal.SIGSTOP)  # type: ignore[union-attr]
    demoted = datetime.now(UTC)
    wait_for("the standby to take the Lease", lambda: holder() == identity(new), timeout=60)
    lose_zone(b)
    wait_not_ready(b)
    wait_for(
        "the new leader to report zone b lost again",
        lambda: next(z for z in status("shop", ns)["zones"] if z["name"] == b)["healthy"] is False,
        60,
    )
    old.proc.send_signal(signal.SIGCONT)  # type: ignore[union-attr]

    # Past the old leader's failback window: had it acted, zone a would drop back to 2 meanwhile.
    stays("the healthy zones keep the moved replicas", lambda: replicas_by_zone(ns, "shop")[a] == 3, seconds=50)
    tail = old.log_tail(200)
    resumed = tail[tail.rfind("lost the lease") :] if "lost the lease" in tail else tail
    assert "lost the lease" in tail, tail
    assert "applied " not in resumed and "scaled " not in resumed and "deleting " not in resumed, resumed
    if AUDIT_LOG:
        late = writes_by(Path(AUDIT_LOG), identity(old), after=demoted)
        assert not late, f"the demoted leader wrote after losing the Lease: {late[:5]}"


def writes_by(log: Path, who: str, after: datetime) -> list[str]:
    """The writes the audit log attributes to a replica (its user agent names it) after a moment."""
    out = []
    for line in log.read_text().splitlines():
        event = json.loads(line)
        if who not in event.get("userAgent", "") or event.get("verb") not in WRITES:
            continue
        when = datetime.fromisoformat(event["requestReceivedTimestamp"].replace("Z", "+00:00"))
        if when > after and (event.get("objectRef") or {}).get("resource") != "leases":
            ref = event.get("objectRef") or {}
            out.append(f"{event['verb']} {ref.get('resource')}/{ref.get('name')} at {when.isoformat()}")
    return out
