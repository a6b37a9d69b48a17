from hypothesis import given
from hypothesis import strategies as st

from spofless.core.judgement import headroom
from spofless.core.judgement.headroom import SiteRequest
from spofless.core.observed import quantity
from spofless.core.observed.parse import pod_from
from spofless.core.observed.records import Allocatable, Load, Node, PodLoad
from spofless.operator.usage import NodeLoads

from .builders import T0, ZONE_KEY


def node(name: str, zone: str, pods: int = 110, cpu: int = 32000, ready: bool = True) -> Node:
    return Node(name, {ZONE_KEY: zone}, ready, allocatable=Allocatable(pods, cpu, 256 * 2**30))


def cluster(per_zone: int = 1, pods: int = 110) -> list[Node]:
    return [node(f"{z}-{i}", z, pods) for z in ("zone-a", "zone-b", "zone-c") for i in range(per_zone)]


def request(desired: dict[str, int], cpu: int = 0, key: str = "ns/shop") -> SiteRequest:
    return SiteRequest(key, dict(desired), dict(desired), [], cpu, 0)


def what_if_one_each(nodes: list[Node], usage: dict[str, Load], cpu: int = 0) -> dict[str, headroom.Verdict]:
    """The what-if of a site with one replica in each of the three zones."""
    zones = ["zone-a", "zone-b", "zone-c"]
    return headroom.what_if(request(dict.fromkeys(zones, 1), cpu=cpu), zones, headroom.by_zone(nodes, ZONE_KEY), usage)


def test_quantities_parse_as_the_api_writes_them() -> None:
    assert quantity.milli("250m") == 250
    assert quantity.milli("1.5") == 1500
    assert quantity.milli(2) == 2000
    assert quantity.units("128Mi") == 128 * 2**20
    assert quantity.units("1G") == 10**9
    assert quantity.units("1e3") == 1000
    assert quantity.units("nonsense") == 0


def test_pod_requests_sum_the_containers_or_take_the_largest_init_container() -> None:
    spec = {
        "containers": [{"resources": {"requests": {"cpu": "100m", "memory": "64Mi"}}}, {"name": "sidecar"}],
        "initContainers": [{"resources": {"requests": {"cpu": "500m"}}}],
    }
    assert quantity.pod_requests(spec) == (500, 64 * 2**20)


def test_an_unschedulable_pod_carries_the_schedulers_reason() -> None:
    body = {
        "metadata": {"name": "p", "labels": {"spofless.dev/zone": "zone-a"}},
        "spec": {"containers": [{"resources": {"requests": {"cpu": "1", "memory": "1Gi"}}}]},
        "status": {
            "phase": "Pending",
            "conditions": [
                {
                    "type": "PodScheduled",
                    "status": "False",
                    "reason": "Unschedulable",
                    "message": "0/15 nodes are available: 5 Too many pods.",
                    "lastTransitionTime": "2026-11-27T12:00:00Z",
                }
            ],
        },
    }
    pod = pod_from(body)
    assert pod.unschedulable and pod.unschedulable_message == "0/15 nodes are available: 5 Too many pods."
    assert pod.unschedulable_since == T0
    assert (pod.cpu_milli, pod.memory_bytes) == (1000, 2**30)


def test_the_book_keeps_per_node_sums_through_adds_changes_and_deletes() -> None:
    book = NodeLoads()
    assert book.update("p1", PodLoad("n1", 100, 10, site=True))
    assert book.update("p2", PodLoad("n1", 200, 20, site=False))
    assert not book.update("p2", PodLoad("n1", 200, 20, site=False))  # nothing new
    assert book.per_node["n1"] == Load(2, 300, 30, 1, 100, 10)
    book.update("p1", PodLoad("n2", 100, 10, site=True))  # rebound elsewhere
    book.update("p2", None)  # gone
    assert book.per_node == {"n2": Load(1, 100, 10, 1, 100, 10)}


@given(
    ops=st.lists(
        st.tuples(st.integers(0, 5), st.none() | st.tuples(st.sampled_from("xyz"), st.integers(0, 9))), max_size=40
    )
)
def test_the_book_matches_a_recount_after_any_events(ops: list[tuple[int, tuple[str, int] | None]]) -> None:
    book, alive = NodeLoads(), dict[int, PodLoad]()
    for key, rec in ops:
        record = PodLoad(rec[0], rec[1], 0, site=rec[1] % 2 == 0) if rec else None
        book.update(key, record)
        if record is None:
            alive.pop(key, None)
        else:
            alive[key] = record
    for name in "xyz":
        mine = [r for r in alive.values() if r.node == name]
        expected = Load(
            len(mine),
            sum(r.cpu_milli for r in mine),
            0,
            sum(r.site for r in mine),
            sum(r.cpu_milli for r in mine if r.site),
            0,
        )
        assert book.per_node.get(name, Load()) == expected


def test_a_node_fits_what_is_left_of_its_pods_cpu_and_memory() -> None:
    n = node("n", "zone-a", pods=10, cpu=4000)
    assert headroom.fits(n, Load(pods=7), 0, 0) == 3
    assert headroom.fits(n, Load(pods=2, cpu_milli=3000), 500, 0) == 2
    assert headroom.fits(Node("n", {}, False, allocatable=n.allocatable), None, 0, 0) == 0  # NotReady


def test_a_roomy_cluster_absorbs_the_loss_of_any_zone() -> None:
    nodes = cluster()
    usage = {n.name: Load(pods=1, site_pods=1) for n in nodes}
    verdicts = what_if_one_each(nodes, usage)
    assert all(v.absorbable and v.would_stay_pending == 0 for v in verdicts.values())


def test_full_zones_cannot_absorb_every_sites_moved_pods() -> None:
    # 3 slots a node, 2 taken by sites' pods: losing a zone moves 2 pods, the others have 1 slot each,
    # and the site alone (1 replica moving) would fit: the fleet is what does not.
    nodes = cluster(pods=3)
    usage = {n.name: Load(pods=2, site_pods=2) for n in nodes}
    verdicts = what_if_one_each(nodes, usage)
    assert verdicts["zone-b"].absorbable  # 2 moving, 2 free
    usage = {n.name: Load(pods=3, site_pods=3) for n in nodes}
    verdicts = what_if_one_each(nodes, usage)
    assert not verdicts["zone-b"].absorbable
    assert verdicts["zone-b"].would_stay_pending == 1
    assert "lack room for every site's pods" in verdicts["zone-b"].message


def test_cpu_requests_limit_the_room_too() -> None:
    nodes = [node(f"{z}-0", z, pods=110, cpu=1000) for z in ("zone-a", "zone-b", "zone-c")]
    usage = {n.name: Load(pods=1, cpu_milli=600, site_pods=1, site_cpu_milli=600) for n in nodes}
    verdicts = what_if_one_each(nodes, usage, cpu=600)
    assert not verdicts["zone-a"].absorbable  # 400m left per node, 600m asked


def test_zones_out_of_service_have_no_what_if() -> None:
    nodes = cluster()
    site = SiteRequest(
        "ns/shop", {"zone-a": 1, "zone-b": 1, "zone-c": 1}, {"zone-a": 2, "zone-b": 1, "zone-c": 1}, ["zone-b"], 0, 0
    )
    assert set(headroom.what_if(site, ["zone-a", "zone-b", "zone-c"], headroom.by_zone(nodes, ZONE_KEY), {})) == {
        "zone-a",
        "zone-c",
    }


def test_the_fleet_signature_names_the_zones_whose_loss_cannot_be_absorbed() -> None:
    nodes = cluster(pods=3)
    assert headroom.unabsorbable(nodes, {n.name: Load(pods=1, site_pods=1) for n in nodes}, [ZONE_KEY]) == frozenset()
    full = {n.name: Load(pods=3, site_pods=3) for n in nodes}
    assert headroom.unabsorbable(nodes, full, [ZONE_KEY, ZONE_KEY]) == {
        (ZONE_KEY, z) for z in ("zone-a", "zone-b", "zone-c")
    }


def test_the_verdict_does_not_change_with_every_pod_of_the_fleet() -> None:
    """Other sites' pods come and go all the time: while the verdict holds, its words must not move,
    or every site's status is rewritten on every pass."""
    nodes = cluster(pods=3)
    full = what_if_one_each(nodes, {n.name: Load(pods=3, site_pods=3) for n in nodes})
    fuller = what_if_one_each(nodes, {n.name: Load(pods=3, site_pods=2) for n in nodes})
    assert not full["zone-b"].absorbable and not fuller["zone-b"].absorbable
    assert full["zone-b"].message == fuller["zone-b"].message
