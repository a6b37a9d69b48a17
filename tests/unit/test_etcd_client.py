"""The etcd client against a stand-in for etcd's JSON gateway: what goes on the wire (base64 keys,
prefix ranges, the lease), and moving on to the next endpoint when one does not answer.
The real etcd is exercised by the data-center scenarios (tests/datacenters)."""

from __future__ import annotations

import asyncio
import base64
import json
from collections.abc import Callable, Coroutine
from typing import Any

import pytest
from aiohttp import web

from spofless.operator.etcd import Etcd, Unavailable, prefix_end

from . import local_server


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


Handler = Callable[[dict[str, Any]], dict[str, Any]]


async def serve(routes: dict[str, Handler], seen: list[tuple[str, dict[str, Any]]]) -> tuple[web.AppRunner, str]:
    async def handle(request: web.Request) -> web.Response:
        body = await request.json()
        seen.append((request.path, body))
        handler = routes.get(request.path)
        if handler is None:
            return web.Response(status=503, text='{"error":"etcdserver: no leader"}')
        return web.json_response(handler(body))

    app = web.Application()
    app.router.add_post("/{tail:.*}", handle)
    return await local_server.start(app)


def run(test: Callable[[], Coroutine[Any, Any, None]]) -> None:
    asyncio.run(test())


def test_range_asks_for_the_prefix_and_decodes_keys_and_values() -> None:
    seen: list[tuple[str, dict[str, Any]]] = []
    kv = {"key": b64("/spofless/members/dc1"), "value": b64('{"a": 1}'), "lease": "7", "create_revision": "3"}

    async def test() -> None:
        runner, url = await serve({"/v3/kv/range": lambda _: {"header": {"revision": "9"}, "kvs": [kv]}}, seen)
        store = Etcd([url])
        try:
            got = await store.range("/spofless/members/")
        finally:
            await store.close()
            await runner.cleanup()
        assert got.revision == 9
        assert [(k.key, k.value, k.lease, k.create_revision) for k in got.kvs] == [
            ("/spofless/members/dc1", '{"a": 1}', 7, 3)
        ]

    run(test)
    path, body = seen[0]
    assert path == "/v3/kv/range"
    assert body == {"key": b64("/spofless/members/"), "range_end": b64("/spofless/members0")}


def test_put_attaches_the_lease_and_keepalive_reads_the_ttl() -> None:
    seen: list[tuple[str, dict[str, Any]]] = []
    routes: dict[str, Handler] = {
        "/v3/kv/put": lambda _: {"header": {"revision": "4"}},
        "/v3/lease/keepalive": lambda b: {"result": {"ID": b["ID"], **({"TTL": "5"} if b["ID"] == "42" else {})}},
    }

    async def test() -> None:
        runner, url = await serve(routes, seen)
        store = Etcd([url])
        try:
            assert await store.put("/k", "v", lease=42) == 4
            assert await store.keep_alive(42) == 5
            assert await store.keep_alive(43) == 0  # expired: etcd answers without a TTL
        finally:
            await store.close()
            await runner.cleanup()

    run(test)
    assert seen[0][1] == {"key": b64("/k"), "value": b64("v"), "lease": "42"}


def test_a_member_that_cannot_answer_is_skipped_and_none_answering_is_unavailable() -> None:
    seen: list[tuple[str, dict[str, Any]]] = []

    async def test() -> None:
        no_leader, bad = await serve({}, seen)  # answers 503, as a member without a leader does
        good_runner, good = await serve({"/v3/lease/grant": lambda _: {"ID": "11", "TTL": "5"}}, seen)
        store = Etcd([bad, "http://127.0.0.1:1", good], timeout=1)
        try:
            assert await store.grant(5) == 11
            assert store.endpoints[store._current] == good  # the next call starts where the last one answered
            await good_runner.cleanup()
            with pytest.raises(Unavailable):
                await store.grant(5)
            # The member it last reached failed first: the next call does not start with its timeout.
            assert store._current == 0
        finally:
            await store.close()
            await no_leader.cleanup()

    run(test)


def test_put_if_absent_compares_the_create_revision() -> None:
    seen: list[tuple[str, dict[str, Any]]] = []

    async def test() -> None:
        runner, url = await serve({"/v3/kv/txn": lambda _: {"succeeded": True}}, seen)
        store = Etcd([url])
        try:
            assert await store.put_if_absent("/lost/dc2", "t")
            assert await store.put_if_absent("/lost/dc2", "t", absent="/members/dc2")
        finally:
            await store.close()
            await runner.cleanup()

    run(test)
    body = seen[0][1]
    assert body["compare"] == [{"target": "CREATE", "key": b64("/lost/dc2"), "create_revision": "0"}]
    assert json.dumps(body["success"]) == json.dumps([{"requestPut": {"key": b64("/lost/dc2"), "value": b64("t")}}])
    # Another key guards the write: the loss is recorded only while the member holds no lease.
    assert seen[1][1]["compare"] == [{"target": "CREATE", "key": b64("/members/dc2"), "create_revision": "0"}]


@pytest.mark.parametrize(("prefix", "end"), [("/a/", "/a0"), ("a", "b"), ("az", "a{")])
def test_prefix_end_is_the_prefix_with_its_last_byte_raised(prefix: str, end: str) -> None:
    assert prefix_end(prefix) == end
