"""A small etcd v3 client over etcd's own JSON gateway (`/v3/...` on every member's client port),
through the aiohttp the operator already runs on.

Why not a PyPI client (docs/mechanisms/datacenters.md, "The etcd client"): etcd3 and aetcd speak gRPC, so they
bring grpcio and protobuf (tens of MB installed, its own threads and memory in every replica), and
etcd3 has had no release since 2020; etcd3gw speaks the same gateway but with `requests`, blocking the
event loop. spofless needs seven calls: grant, keep alive, revoke, range, put, delete, a
put-if-absent transaction, plus a watch and the member list. The gateway is part of etcd, versioned
with its API, and served on the same port with the same TLS.

Keys and values are bytes on the wire (base64 in the JSON); here they are str (UTF-8).
"""

from __future__ import annotations

import asyncio
import base64
import json
import ssl
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp

TIMEOUT = 2.0  # seconds for one call: well under a lease's TTL, so a dead endpoint cannot outlast a lease


class Unavailable(Exception):
    """No endpoint answered: the store (or its majority) cannot be reached from here."""


@dataclass(frozen=True)
class KeyValue:
    key: str
    value: str
    lease: int
    create_revision: int
    mod_revision: int


@dataclass(frozen=True)
class Range:
    revision: int
    kvs: tuple[KeyValue, ...]


@dataclass(frozen=True)
class WatchEvent:
    kind: str  # "PUT" or "DELETE"
    kv: KeyValue


@dataclass(frozen=True)
class Member:
    name: str
    client_urls: tuple[str, ...]
    peer_urls: tuple[str, ...]


def _b64(text: str) -> str:
    return base64.b64encode(text.encode(errors="surrogateescape")).decode()


def _unb64(text: str | None) -> str:
    return base64.b64decode(text or "").decode(errors="replace")


def prefix_end(prefix: str) -> str:
    """The range end that selects every key starting with `prefix` (etcd's rule: the last byte + 1)."""
    raw = bytearray(prefix.encode())
    while raw and raw[-1] == 0xFF:
        raw.pop()
    if not raw:
        return "\0"
    raw[-1] += 1
    return raw.decode(errors="surrogateescape")


def _key_value(raw: dict[str, Any]) -> KeyValue:
    return KeyValue(
        key=_unb64(raw.get("key")),
        value=_unb64(raw.get("value")),
        lease=int(raw.get("lease") or 0),
        create_revision=int(raw.get("create_revision") or 0),
        mod_revision=int(raw.get("mod_revision") or 0),
    )


def tls_context(ca: str | None, cert: str | None, key: str | None) -> ssl.SSLContext | None:
    """A client TLS context from files (the Secret mounted in the pod), or None for plain HTTP."""
    if not (ca or cert):
        return None
    context = ssl.create_default_context(cafile=ca) if ca else ssl.create_default_context()
    if cert:
        context.load_cert_chain(cert, key)
    return context


def tls_from_dir(directory: str | None) -> ssl.SSLContext | None:
    """The conventional file names of a kubernetes.io/tls Secret plus ca.crt, where present."""
    if not directory:
        return None
    base = Path(directory)

    def file(name: str) -> str | None:
        return str(base / name) if (base / name).exists() else None

    return tls_context(file("ca.crt"), file("tls.crt"), file("tls.key"))


@dataclass
class Etcd:
    """The store, through any of its members: a call goes to the member that last answered, and moves
    on to the next when that one cannot be reached. Linearizable by default: an answer then carries the
    majority's word (a member cut off from its majority cannot give one)."""

    endpoints: Sequence[str]
    tls: ssl.SSLContext | None = None
    timeout: float = TIMEOUT
    _session: aiohttp.ClientSession | None = None
    _current: int = 0

    def session(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(ssl=self.tls if self.tls is not None else False, limit=8),
                timeout=aiohttp.ClientTimeout(total=self.timeout),
            )
        return self._session

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()

    async def call(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        """One unary call, on the first endpoint that answers. A member that answers with an error (no
        leader, a request it refuses) counts as not answering: the next member may do better."""
        last: Exception | None = None
        start = self._current
        for attempt in range(len(self.endpoints)):
            index = (start + attempt) % len(self.endpoints)
            try:
                async with self.session().post(f"{self.endpoints[index].rstrip('/')}{path}", json=body) as reply:
                    text = await reply.text()
                    if reply.status != 200:
                        raise Unavailable(f"{self.endpoints[index]}{path}: {reply.status} {text.strip()[:200]}")
                    self._current = index
                    data = json.loads(text)
                    return data.get("result", data) if isinstance(data, dict) else {}
            except (aiohttp.ClientError, TimeoutError, Unavailable, ValueError) as err:
                last = err
                if index == start:  # the next call starts with the next member, not with a dead one's timeout
                    self._current = (start + 1) % len(self.endpoints)
        raise Unavailable(str(last) or type(last).__name__)

    # --- leases ----------------------------------------------------------------------------------

    async def grant(self, ttl: int) -> int:
        return int((await self.call("/v3/lease/grant", {"TTL": ttl}))["ID"])

    async def keep_alive(self, lease: int) -> int:
        """Renews the lease once; its remaining TTL, 0 when it has expired (it cannot come back)."""
        return int((await self.call("/v3/lease/keepalive", {"ID": str(lease)})).get("TTL") or 0)

    async def revoke(self, lease: int) -> None:
        await self.call("/v3/lease/revoke", {"ID": str(lease)})

    # --- keys ------------------------------------------------------------------------------------

    async def range(self, prefix: str, serializable: bool = False) -> Range:
        """Every key under `prefix`. serializable: the answering member's own copy, no majority asked."""
        body: dict[str, Any] = {"key": _b64(prefix), "range_end": _b64(prefix_end(prefix))}
        if serializable:
            body["serializable"] = True
        data = await self.call("/v3/kv/range", body)
        revision = int(data.get("header", {}).get("revision") or 0)
        return Range(revision, tuple(_key_value(kv) for kv in data.get("kvs", ())))

    async def put(self, key: str, value: str, lease: int = 0) -> int:
        body: dict[str, Any] = {"key": _b64(key), "value": _b64(value)}
        if lease:
            body["lease"] = str(lease)
        return int((await self.call("/v3/kv/put", body)).get("header", {}).get("revision") or 0)

    async def delete(self, key: str, prefix: bool = False) -> int:
        body = {"key": _b64(key), **({"range_end": _b64(prefix_end(key))} if prefix else {})}
        return int((await self.call("/v3/kv/deleterange", body)).get("deleted") or 0)

    async def put_if_absent(self, key: str, value: str, lease: int = 0, absent: str | None = None) -> bool:
        """Writes `key` only while `absent` (`key` itself by default) does not exist; True when this call
        wrote it."""
        put: dict[str, Any] = {"key": _b64(key), "value": _b64(value), **({"lease": str(lease)} if lease else {})}
        compare = {"target": "CREATE", "key": _b64(absent or key), "create_revision": "0"}
        data = await self.call("/v3/kv/txn", {"compare": [compare], "success": [{"requestPut": put}]})
        return bool(data.get("succeeded"))

    async def delete_if_unchanged(self, keys: Sequence[str], unchanged: dict[str, int]) -> bool:
        """Deletes `keys` only if every key of `unchanged` still has the modification revision given (0:
        absent): a decision made on what was read is carried out only if that is still so."""
        compare = [{"target": "MOD", "key": _b64(k), "mod_revision": str(rev)} for k, rev in unchanged.items()]
        deletes = [{"requestDeleteRange": {"key": _b64(k)}} for k in keys]
        data = await self.call("/v3/kv/txn", {"compare": compare, "success": deletes})
        return bool(data.get("succeeded"))

    async def members(self) -> list[Member]:
        data = await self.call("/v3/cluster/member/list", {})
        return [
            Member(m.get("name") or "", tuple(m.get("clientURLs") or ()), tuple(m.get("peerURLs") or ()))
            for m in data.get("members", ())
        ]

    async def watch(self, prefix: str, start_revision: int) -> AsyncIterator[list[WatchEvent]]:
        """Changes under `prefix` from `start_revision` on, a batch per response, until the stream ends
        or breaks (the caller reads again and watches from there). No timeout: a watch is long-lived."""
        create = {"key": _b64(prefix), "range_end": _b64(prefix_end(prefix)), "start_revision": str(start_revision)}
        url = f"{self.endpoints[self._current].rstrip('/')}/v3/watch"
        timeout = aiohttp.ClientTimeout(total=None, sock_connect=self.timeout)
        try:
            async with self.session().post(url, json={"create_request": create}, timeout=timeout) as reply:
                if reply.status != 200:
                    raise Unavailable(f"{url}: {reply.status}")
                async for line in reply.content:
                    if not line.strip():
                        continue
                    result = json.loads(line).get("result") or {}
                    if result.get("canceled") or result.get("compact_revision"):
                        return  # compacted or refused: the caller re-reads
                    events = [
                        WatchEvent(e.get("type") or "PUT", _key_value(e.get("kv") or {}))
                        for e in result.get("events", ())
                    ]
                    if events:
                        yield events
        except (aiohttp.ClientError, TimeoutError, ValueError, asyncio.IncompleteReadError) as err:
            raise Unavailable(f"watch on {url}: {err!r}") from err
