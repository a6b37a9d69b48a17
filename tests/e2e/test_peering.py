"""The operator is no single point of failure itself: two peered replicas, one active, and a
standby that takes over when the active one is killed."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from .cluster import apply, kubectl, wait_established, wait_for
from .conftest import LOGS, ROOT, Operator
from .sites import deployments, manifest, replicas_by_zone, wait_phase

PEERING = "spofless-e2e"


@pytest.fixture
def peered(own_operator: Operator) -> Iterator[tuple[Operator, Operator]]:
    """Two peered operator processes, the first with the higher priority; the suite's standalone
    operator steps aside meanwhile."""
    kubectl("apply", "--server-side", "-f", str(ROOT / "crds" / "kopf-peering.yaml"))
    wait_established("clusterkopfpeerings.kopf.dev")
    apply({"apiVersion": "kopf.dev/v1", "kind": "ClusterKopfPeering", "metadata": {"name": PEERING}})
    own_operator.kill()
    active, standby = Operator(_dir("active")), Operator(_dir("standby"))
    try:
        active.start("--peering", PEERING, "--priority", "200")
        active.wait_alive()
        standby.start("--peering", PEERING, "--priority", "100")
        standby.wait_alive()
        yield active, standby
    finally:
        active.kill()
        standby.kill()
        own_operator.start("--standalone")
        own_operator.wait_alive()


def _dir(name: str) -> Path:
    path = LOGS / name
    path.mkdir(parents=True, exist_ok=True)
    return path


def test_only_the_active_replica_acts_and_the_standby_takes_over(
    ns: str, healthy_nodes: None, peered: tuple[Operator, Operator]
) -> None:
    active, standby = peered
    apply(manifest("shop", ns, replicas=3))
    wait_phase("shop", ns, "Redundant", readyReplicas=3)
    assert f"applied Deployment {ns}/" in active.log_tail(400)
    assert f"{ns}/" not in standby.log_tail(400), "the standby wrote while the active replica ran"

    active.kill()  # SIGKILL: no goodbye in the peering object, the standby must notice the silence
    killed = time.monotonic()
    zone = sorted(deployments(ns, "shop"))[0]
    kubectl("scale", "deployment", deployments(ns, "shop")[zone]["metadata"]["name"], "-n", ns, "--replicas=4")
    wait_for(
        "the standby to repair the hand edit",
        lambda: replicas_by_zone(ns, "shop")[zone] == 1 or print(replicas_by_zone(ns, "shop")),
        timeout=90,
    )
    print(f"standby takeover after SIGKILL of the active replica: {time.monotonic() - killed:.1f} s")
    assert f"applied Deployment {ns}/" in standby.log_tail(400)
