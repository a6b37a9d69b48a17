"""Whatever the stored status holds, a pass never raises, never deletes a zone Deployment whose pods
say Ready, and never drops ready capacity: the ready pods the zones keep carry the spec, and no zone
shrinks below its ready pods unless it holds more than its even share (a failback gives that back).

The previous statuses are real ones (a steady site, a lost zone, a zone whose nodes are gone, a
rollout) mutated at random: fields replaced by garbage (wrong types, garbage and naive times),
sections removed, unknown fields added; and statuses drawn from the CRD's own status schema."""

from __future__ import annotations

import copy
from collections import Counter
from datetime import timedelta
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from spofless.core.model import crd
from spofless.core.observed.records import Observed
from spofless.core.placement.split import spread
from spofless.core.site.decision import Decision, decide

from .builders import T0, nodes, site, world
from .schema_strategy import from_schema

ZONES = {"zone-a": 3, "zone-b": 3, "zone-c": 3}
EVEN = {"zone-a": 2, "zone-b": 2, "zone-c": 2}
MOVED = {"zone-a": 3, "zone-b": 2, "zone-c": 3}
GONE_C = {"zone-a": 3, "zone-b": 3, "zone-c": 2}
SPEC = {"replicas": 6}


def _nodes_gone(observed: Observed, zone: str) -> Observed:
    kept = {z: n for z, n in ZONES.items() if z != zone}
    return Observed(nodes=nodes(kept), pods=observed.pods, endpoints=observed.endpoints, children=observed.children)


SCENES: dict[str, Observed] = {
    "steady": world(ZONES, EVEN),
    "zone-b lost": world(ZONES, {"zone-a": 3, "zone-c": 3}, replicas=MOVED, not_ready=("zone-b",)),
    "zone-c gone": _nodes_gone(world(ZONES, GONE_C, replicas=GONE_C), "zone-c"),
    "replicas above ready": world(ZONES, {"zone-a": 3, "zone-b": 3, "zone-c": 2}, replicas=MOVED),
    "first rollout": world(ZONES, {"zone-a": 1}, replicas=EVEN),
}


def _real_statuses() -> list[dict[str, Any]]:
    out = []
    for name, observed in SCENES.items():
        status = decide(site(SPEC), SCENES["steady"], T0).status
        for i in range(3):
            status = decide(site(SPEC, status), observed, T0 + timedelta(seconds=10 * i)).status
        out.append(status)
        if name == "steady":
            out.append(decide(site({**SPEC, "replicas": "bad"}, status), observed, T0).status)
    return out


REAL = _real_statuses()
TIMES = st.sampled_from(
    ["yesterday-ish", "2026-11-27T11:00:00", "2026-11-27T11:00:00+02:00", "2000-01-01T00:00:00Z", "", "Z"]
)
GARBAGE = st.one_of(
    st.none(), st.booleans(), st.integers(-3, 10), st.floats(allow_nan=True), st.text(max_size=6), TIMES,
    st.lists(st.one_of(st.integers(), st.text(max_size=3), TIMES), max_size=3),
    st.dictionaries(st.text(max_size=4), st.one_of(st.integers(), TIMES), max_size=3),
)  # fmt: skip


def _paths(node: Any, here: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out = [here] if here else []
    if isinstance(node, dict):
        for key, value in node.items():
            out += _paths(value, (*here, key))
    elif isinstance(node, list):
        for i, value in enumerate(node):
            out += _paths(value, (*here, i))
    return out


@st.composite
def mutated(draw: st.DrawFn) -> dict[str, Any]:
    status: dict[str, Any] = copy.deepcopy(draw(st.sampled_from(REAL)))
    for _ in range(draw(st.integers(1, 6))):
        paths = _paths(status)
        if not paths:
            break
        path = draw(st.sampled_from(paths))
        parent: Any = status
        for step in path[:-1]:
            parent = parent[step]
        action = draw(st.sampled_from(["garbage", "drop", "unknown"]))
        if action == "garbage":
            parent[path[-1]] = draw(GARBAGE)
        elif action == "drop" and isinstance(parent, dict):
            del parent[path[-1]]
        elif isinstance(parent, dict):
            parent[draw(st.text(min_size=1, max_size=6))] = draw(GARBAGE)
    return status


STATUS_SCHEMA = crd.site_schema()["properties"]["status"]
PREVIOUS = st.one_of(mutated(), from_schema(STATUS_SCHEMA), GARBAGE)


def _ready_pods(observed: Observed) -> Counter[str]:
    return Counter(p.zone for p in observed.pods if p.ready and not p.terminating)


def _asked(result: Decision) -> dict[str, int]:
    out = {
        m["metadata"]["labels"]["spofless.dev/zone"]: m["spec"]["replicas"]
        for m in result.apply
        if m["kind"] == "Deployment"
    }
    return out | {name.removeprefix("shop-"): n for name, n in result.scale.items()}


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(previous=PREVIOUS, scene=st.sampled_from(sorted(SCENES)), later=st.integers(0, 200_000))
def test_any_previous_status_is_safe(previous: Any, scene: str, later: int) -> None:
    observed = SCENES[scene]
    result = decide(site(SPEC, previous if isinstance(previous, dict) else {"x": previous}), observed,
                    T0 + timedelta(seconds=later))  # fmt: skip
    ready = _ready_pods(observed)
    zone_of = {c.name: c.zone for c in observed.children if c.kind == "Deployment"}
    for kind, name in result.delete:
        assert kind != "Deployment" or not ready[zone_of.get(name) or ""], (scene, name)
    current = {c.zone: c.replicas or 0 for c in observed.children if c.kind == "Deployment" and c.zone}
    asked = current | _asked(result)
    # Ready capacity is never dropped: the ready pods the zones keep carry the spec (or all there are).
    kept = sum(min(asked.get(z, 0), n) for z, n in ready.items())
    assert kept >= min(sum(ready.values()), SPEC["replicas"]), (scene, asked, ready)
    share = spread(SPEC["replicas"], list(ZONES), "web/shop")
    if all(ready[z] <= share[z] for z in ZONES):  # no surplus to give back: no zone shrinks below its ready pods
        for zone, replicas in asked.items():
            assert replicas >= min(ready[zone], current.get(zone, 0)), (scene, zone, replicas, ready[zone])
