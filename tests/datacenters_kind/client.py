"""A client of a site served from several data centers, as a user's program on this host would be one:
it resolves the site's name through the data centers' name servers, then sends an HTTP GET to one of
the addresses it got. It runs in a thread, bounded in count and in time, and records every request.

- Resolving: the name servers are tried in turn, the one that answered last first (as a stub resolver
  that remembers a dead server would), each with a short timeout; no answer from any of them is a
  failed request. Nothing is cached here: every request resolves again, so the client sees DNS as the
  name servers serve it (their own cache is 1 s).
- Sending: a new connection per request, with a 1 s timeout; the answer's addresses are taken in turn,
  so both data centers get requests.
- With `retry`, a failed request is tried once more against another address of the same answer (the
  other data center's), as a client that knows a name can have several addresses does.

Each record: {"t": start (unix s), "ok", "ms": until the last attempt ended, "address": the one that
answered (or the last tried), "tries", "err": why it failed}: the shape tests/e2e/traffic.py's Outage
reads.
"""

from __future__ import annotations

import http.client
import threading
import time
from dataclasses import dataclass, field
from typing import Any

import dns.exception
import dns.resolver

INTERVAL = 0.1  # seconds between two requests' starts
TIMEOUT = 1.0  # a request not answered within this fails
DNS_TIMEOUT = 0.3  # per name server: well under the request's timeout, so a dead one costs little


@dataclass
class Client:
    name: str
    hostname: str
    port: int
    nameservers: list[str]
    retry: bool = False
    max_requests: int = 6000
    max_seconds: float = 600.0
    records: list[dict[str, Any]] = field(default_factory=list)
    _preferred: int = 0
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name=f"client-{self.name}", daemon=True)
        self._thread.start()

    def stop(self) -> list[dict[str, Any]]:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
        return list(self.records)

    def _run(self) -> None:
        start = time.time()
        sent = 0
        while not self._stop.is_set() and sent < self.max_requests and time.time() - start < self.max_seconds:
            t = time.time()
            self.records.append(self._one(t, sent))
            sent += 1
            self._stop.wait(max(0.0, INTERVAL - (time.time() - t)))

    def _one(self, t: float, n: int) -> dict[str, Any]:
        addresses, err = self.resolve()
        if not addresses:
            return {"t": t, "ok": False, "ms": round((time.time() - t) * 1000), "address": "", "tries": 0, "err": err}
        address = addresses[n % len(addresses)]
        ok, err = get(address, self.port)
        tries = 1
        if not ok and self.retry:
            others = [a for a in addresses if a != address]
            if others:
                address, tries = others[0], 2
                ok, again = get(address, self.port)
                err = f"{err}; then {again}" if not ok else err
        record = {"t": t, "ok": ok, "ms": round((time.time() - t) * 1000), "address": address, "tries": tries}
        return record if ok else {**record, "err": err}

    def resolve(self) -> tuple[list[str], str]:
        """The addresses the first name server that answers gives (sorted), and why there are none."""
        errors = []
        order = self.nameservers[self._preferred :] + self.nameservers[: self._preferred]
        for server in order:
            resolver = dns.resolver.Resolver(configure=False)
            resolver.nameservers = [server]
            resolver.lifetime = DNS_TIMEOUT
            resolver.cache = None
            try:
                answer = resolver.resolve(self.hostname, "A")
            except dns.resolver.NXDOMAIN:
                errors.append(f"dns {server}: NXDOMAIN")
                continue
            except dns.exception.DNSException as exc:
                errors.append(f"dns {server}: {type(exc).__name__}")
                continue
            self._preferred = self.nameservers.index(server)
            return sorted(r.address for r in answer), ""
        return [], "; ".join(errors)


def get(address: str, port: int) -> tuple[bool, str]:
    conn = http.client.HTTPConnection(address, port, timeout=TIMEOUT)
    try:
        conn.request("GET", "/")
        reply = conn.getresponse()
        reply.read()
        return reply.status == 200, "" if reply.status == 200 else f"HTTP {reply.status}"
    except (OSError, http.client.HTTPException) as exc:
        return False, f"{address}: {type(exc).__name__}: {str(exc)[:80]}"
    finally:
        conn.close()


__all__ = ["DNS_TIMEOUT", "INTERVAL", "TIMEOUT", "Client"]
