"""A site keeps answering while a whole zone dies, on real nodes (kind): a client inside the cluster
sends requests to the site's Service throughout, and the zone's node containers are paused.

What spofless promises, and what is asserted: the site keeps answering through the outage (most
requests succeed, and never a stretch without an answer as long as the time Kubernetes takes to
notice the dead node); once the nodes are NotReady and the endpoints updated, no request fails; the
lost zone's capacity is back in the other zones; and the zone's return costs (nearly) nothing.
The same holds when the active operator is killed as the nodes turn NotReady: the standby takes over.
The silent-zone detector takes the dead zone's pods out of the Service before its node turns NotReady,
and a second client, in a zone that survives, with the site's PreferSameZone, sees (nearly) no failure.
Figures: bench/zone_outage.py.
"""

from __future__ import annotations

import json

import pytest

from .cluster import apply
from .conftest import LOGS
from .faults import operator_zones
from .sites import wait_phase
from .traffic import (
    KIND,
    NEEDS_KIND,
    Outage,
    run_outage,
    service_url,
    site_manifest,
    start_client,
)

pytestmark = pytest.mark.skipif(not KIND, reason=NEEDS_KIND)
ZONES = ("zone-a", "zone-b", "zone-c")

# The longest stretch without a successful answer we accept. A third of the requests go to the dead
# zone until its node turns NotReady (about 50 s by default); each of those waits the client's 1 s
# timeout, so a run of k failures in a row has probability 3^-k: 14 in a row (~15 s) does not happen
# in ~500 requests (measured: 3-6 s). Far below the ~50 s the site would be dark without spofless's
# spread: a whole-zone outage never silences it.
MAX_GAP_S = 15.0


def outage_through(ns: str, kill_active_operator: bool) -> Outage:
    """A zone outage under a site that prefers same-zone traffic, with a client in no zone and, unless
    the operator is killed too, one in a zone that survives."""
    apply(site_manifest("web", ns, replicas=6, traffic_distribution="PreferSameZone"))
    wait_phase("web", ns, "Redundant", timeout=240, readyReplicas=6, trafficDistribution="PreferSameZone")
    # The zone that dies hosts no operator replica: the operator's own failure is the second test.
    zones_with_operator = set(operator_zones().values())
    zone = next(z for z in ZONES if z not in zones_with_operator)
    url = service_url(ns, "web")
    clients = [start_client(ns, url, seconds=600)]
    if not kill_active_operator:
        clients.append(start_client(ns, url, seconds=600, zone=next(z for z in ZONES if z != zone)))
    out = run_outage(ns, "web", zone, clients, kill_active_operator=kill_active_operator)
    figures = {client: out.figures(client) for client in clients}
    LOGS.mkdir(parents=True, exist_ok=True)
    (LOGS / f"zone-outage-{'operator-killed' if kill_active_operator else 'plain'}.json").write_text(
        json.dumps(figures, indent=2)
    )
    print(json.dumps(figures, indent=2))
    return out


def assert_site_kept_answering(out: Outage, client: str = "") -> None:
    figures = out.figures(client)
    outage, settled, back = figures["outage"], figures["outage_after_not_ready_plus_15s"], figures["return"]
    assert outage["sent"] > 100, figures
    assert outage["failed"] <= outage["sent"] / 2, f"most requests must be answered during the outage: {figures}"
    assert outage["longest_gap_s"] <= MAX_GAP_S, f"the site went silent for too long: {figures}"
    # Once the dead nodes are NotReady and the endpoints had 15 s to follow, requests fail no more than
    # the loaded test machine's own stray timeouts (0 in most runs, 2 of ~180 in two runs).
    assert settled["sent"] > 0, figures
    assert settled["failed"] <= max(3, settled["sent"] // 50), f"requests failed after the dead nodes left: {figures}"
    # During the failback, pods in the other zones are scaled down: the test server exits at once on
    # SIGTERM, so the few requests kube-proxy still sends it are refused (2-5 of ~400 measured).
    assert back["failed"] <= max(2, back["sent"] // 50), f"the zone's return cost requests: {figures}"
    assert back["longest_gap_s"] <= 3, figures


def test_a_zone_dies_and_the_site_keeps_answering(ns: str, healthy_nodes: None) -> None:
    out = outage_through(ns, kill_active_operator=False)
    anywhere, in_zone = out.requests
    assert_site_kept_answering(out, anywhere)
    assert_site_kept_answering(out, in_zone)
    figures = out.figures(in_zone)
    # The silent-zone detector takes the zone's pods out of the Service before the node controller
    # marks the node NotReady (50 s). With kind's one node per zone that takes the Lease's renew
    # interval (10 s) and 2 s of margin after its last renewal, and up to one more interval for the
    # other zones to renew since: 23 s at most from the pause on paper; 2.6-19.2 s measured in the
    # traffic scenarios, 28.9 s once in the silent-zone one (a late renewal, or a re-list of the Leases).
    assert figures["endpoints_out_s"] < figures["node_not_ready_s"], figures
    assert figures["endpoints_out_s"] <= 35, figures
    # The moves start at the same moment: the capacity is back in the other zones before NotReady.
    assert figures["ready_capacity_back_s"] < figures["node_not_ready_s"], figures
    # A client in a zone that survives, with PreferSameZone, only ever reached its own zone's pods
    # while the zones were balanced; once the dead zone's pods are out, the preference is lifted.
    # Target 0 failures; 2 allows the loaded machine's stray timeouts (see above).
    assert figures["outage"]["failed"] <= 2, figures
    # The capacity comes back soon after the zone is seen lost (scale-up of the other zones).
    assert out.since_kill("capacity") - out.since_kill("lost") <= 90, out.figures()


def test_the_active_operator_dies_with_the_zone_and_the_standby_takes_over(ns: str, healthy_nodes: None) -> None:
    out = outage_through(ns, kill_active_operator=True)
    assert out.killed_operator
    assert_site_kept_answering(out)
    # Killed as the nodes turned NotReady: the standby waits for the killed replica's Lease
    # to expire (15 s lifetime), then fails over.
    assert out.since_kill("capacity") - out.since_kill("not_ready") <= 120, out.figures()
