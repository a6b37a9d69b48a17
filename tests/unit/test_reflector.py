"""The operator's own list-and-watch (reflector.py) and the index it fills (objectindex.py), against a
scripted server: what it lists, what it watches from, and what it says went while nobody watched."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Mapping
from typing import Any

import pytest

from spofless.operator import reflector as reflector_module
from spofless.operator.objectindex import Merged, ObjectIndex
from spofless.operator.reflector import Reflector


@pytest.fixture(autouse=True)
def no_relist_delay(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(reflector_module, "RELIST_DELAY", 0.0)


def obj(uid: str, version: str, **labels: str) -> dict[str, Any]:
    return {"metadata": {"uid": uid, "resourceVersion": version, "labels": labels}}


class Server:
    """Each list returns the next of `lists`; each watch plays the next of `watches` (a script of
    events; an exception in it breaks the watch). When the scripts run out, the scenario ends."""

    def __init__(self, lists: list[list[dict[str, Any]]], watches: list[list[Any]]) -> None:
        self.lists, self.watches = lists, watches
        self.listed = 0
        self.watched_from: list[str] = []
        self.list_queries: list[dict[str, str]] = []

    async def call(self, method: str, url: str, body: Any = None, query: Any = None) -> dict[str, Any]:
        items = self.lists[self.listed]
        self.listed += 1
        self.list_queries.append(dict(query or []))
        return {"items": items, "metadata": {"resourceVersion": str(10 * self.listed)}}

    async def stream(self, url: str, query: list[tuple[str, str]]) -> AsyncIterator[dict[str, Any]]:
        if not self.watches:
            raise asyncio.CancelledError  # the end of the scenario
        self.watched_from.append(dict(query)["resourceVersion"])
        for event in self.watches.pop(0):
            if isinstance(event, Exception):
                raise event
            yield event


def reflect(server: Server) -> tuple[dict[str, Mapping[str, Any]], list[str]]:
    """Runs a reflector over the script: the objects it holds at the end, and what happened, in order."""
    held: dict[str, Mapping[str, Any]] = {}
    said: list[str] = []

    def apply(key: str, item: Mapping[str, Any] | None) -> None:
        said.append(f"{'gone' if item is None else 'seen'} {key}")
        if item is None:
            held.pop(key, None)
        else:
            held[key] = item

    reflector = Reflector(server, "/api/v1/pods", apply, "pods", on_listed=lambda: said.append("listed"),
                          on_break=lambda: said.append("broke"))  # fmt: skip

    async def scenario() -> None:
        with contextlib.suppress(asyncio.CancelledError):
            await reflector.run()

    with contextlib.suppress(asyncio.TimeoutError):
        asyncio.run(asyncio.wait_for(scenario(), timeout=10))
    return held, said


def test_it_lists_then_watches_from_the_list_and_goes_on_from_the_last_version_seen() -> None:
    server = Server(
        lists=[[obj("a", "3"), obj("b", "4")]],
        watches=[
            [{"type": "MODIFIED", "object": obj("a", "11")}, {"type": "DELETED", "object": obj("b", "12")}],
            [{"type": "BOOKMARK", "object": {"metadata": {"resourceVersion": "15"}}}],
            [{"type": "ADDED", "object": obj("c", "16")}],
        ],
    )
    held, said = reflect(server)
    assert server.listed == 1, "a watch the server ended goes on without a list"
    assert server.watched_from == ["10", "12", "15"]
    assert said == ["seen a", "seen b", "listed", "seen a", "gone b", "seen c"]
    assert held["a"]["metadata"]["resourceVersion"] == "11" and set(held) == {"a", "c"}


def test_a_broken_watch_lists_again_and_says_what_went_while_nobody_watched() -> None:
    server = Server(
        lists=[[obj("a", "3"), obj("b", "4")], [obj("b", "14"), obj("d", "15")]],
        watches=[[{"type": "ADDED", "object": obj("c", "11")}, {"type": "ERROR", "object": {"code": 410}}]],
    )
    held, said = reflect(server)
    assert server.listed == 2 and server.watched_from == ["10"]
    assert server.list_queries == [{"resourceVersion": "0"}, {}], "the first from the watch cache, then the latest"
    assert said[said.index("broke") :] == ["broke", "gone a", "gone c", "seen b", "seen d", "listed"]
    assert set(held) == {"b", "d"}


def test_a_watch_that_fails_lists_again() -> None:
    server = Server(lists=[[obj("a", "3")], [obj("a", "3")]], watches=[[ConnectionResetError("reset")]])
    _, said = reflect(server)
    assert said == ["seen a", "listed", "broke", "seen a", "listed"]


def test_an_object_index_files_each_object_under_its_keys_only_and_forgets_it_whole() -> None:
    index: ObjectIndex[str, int] = ObjectIndex()
    index.put("p1", {"shop": 1})
    index.put("p2", {"shop": 2, "web": 2})
    assert sorted(index["shop"]) == [1, 2] and index["web"] == (2,)
    index.put("p2", {"web": 3})  # moved: no longer under shop
    assert index["shop"] == (1,) and index["web"] == (3,)
    index.remove("p2")
    index.put("p1", {})
    assert dict(index) == {} and index.get("shop", ()) == ()


def test_merged_indices_read_as_one() -> None:
    first: ObjectIndex[str, int] = ObjectIndex()
    second: ObjectIndex[str, int] = ObjectIndex()
    first.put("x", {"a": 1})
    second.put("y", {"b": 2})
    merged = Merged(first, second)
    assert merged.get("a") == (1,) and merged.get("b") == (2,) and merged.get("c", ()) == ()
    assert sorted(merged) == ["a", "b"] and len(merged) == 2
