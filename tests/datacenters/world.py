"""The data centers on one machine, as the scenarios drive them: each one's cluster (kubectl with its
kubeconfig), its spofless (a child process), its uplink to the store (a TCP relay that can be cut),
and its name server (asked with dnspython, a real resolver library).

The topology comes from hack/datacenters.sh (the JSON file `env` names)."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import dns.exception
import dns.resolver

from tests.e2e.cluster import ClusterAt, wait_for
from tests.e2e.ports import free_port

from . import store

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "hack" / "datacenters.sh"
LOGS = Path(os.environ.get("SPOFLESS_E2E_LOGS", "/tmp/spofless-e2e")) / "datacenters"
LEASE_SECONDS = 5
# hack/datacenters.sh keeps its members' logs here (its STATE), until `down`.
STATE_LOGS = (
    Path(
        os.environ.get("SPOFLESS_DC_STATE")
        or Path(os.environ.get("XDG_STATE_HOME") or Path.home() / ".local" / "state") / "spofless" / "datacenters"
    )
    / "logs"
)
# etcd's election timeout (its default; hack/lib/datacenters.sh): a leader that takes over gives every lease
# this much on top of a fresh TTL (its lessor's Promote).
ELECTION_TIMEOUT_SECONDS = 1
# How old a name server's answer can be: its cache keeps an answer for 1 s (`cache 1`), and CoreDNS counts
# that second in whole seconds, so an answer is served until it is 2 s old.
ANSWER_AGE_SECONDS = 2


class Uplink:
    """A data center's link to the store: a TCP relay on loopback in front of the etcd members (its
    own member first). `cut()` drops every connection and refuses new ones, as a network partition
    between this data center and the store would; `mend()` lets traffic through again."""

    def __init__(self, members: list[str]) -> None:
        self.members = [(u.split("//")[1].split(":")[0], int(u.rsplit(":", 1)[1])) for u in members]
        self.server = socket.create_server(("127.0.0.1", 0))
        self.port = self.server.getsockname()[1]
        self.open = True
        self.conns: list[socket.socket] = []
        self.lock = threading.Lock()
        threading.Thread(target=self._accept, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def _accept(self) -> None:
        while True:
            client, _ = self.server.accept()
            if not self.open:
                client.close()
                continue
            upstream = self._connect()
            if upstream is None:
                client.close()
                continue
            with self.lock:
                self.conns += [client, upstream]
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pipe, args=(a, b), daemon=True).start()

    def _connect(self) -> socket.socket | None:
        for host, port in self.members:
            try:
                return socket.create_connection((host, port), timeout=0.5)
            except OSError:
                continue
        return None

    def _pipe(self, src: socket.socket, dst: socket.socket) -> None:
        try:
            while data := src.recv(65536):
                dst.sendall(data)
        except OSError:
            pass
        finally:
            for s in (src, dst):
                with contextlib.suppress(OSError):
                    s.shutdown(socket.SHUT_RDWR)

    def cut(self) -> None:
        self.open = False
        with self.lock:
            for conn in self.conns:
                with contextlib.suppress(OSError):
                    conn.shutdown(socket.SHUT_RDWR)
            self.conns = []

    def mend(self) -> None:
        self.open = True


@dataclass
class DataCenter(ClusterAt):
    name: str
    address: str
    etcd: str
    dns: str
    kubeconfig: str
    uplink: Uplink
    proc: subprocess.Popen[bytes] | None = None
    starts: int = 0
    liveness: str = ""

    # --- its cluster ----------------------------------------------------------------------------

    def replicas(self, site: str, namespace: str) -> dict[str, int]:
        items = self.get("deployments", namespace=namespace, selector=f"spofless.dev/site={site}")
        return {d["metadata"]["labels"]["spofless.dev/zone"]: d["spec"]["replicas"] for d in items}

    def pod_uids(self, site: str, namespace: str) -> set[str]:
        return {
            p["metadata"]["uid"] for p in self.get("pods", namespace=namespace, selector=f"spofless.dev/site={site}")
        }

    # --- its spofless ---------------------------------------------------------------------------

    def start_operator(self) -> None:
        LOGS.mkdir(parents=True, exist_ok=True)
        self.starts += 1
        self.liveness = f"http://127.0.0.1:{free_port()}/healthz"
        log = (LOGS / f"{self.name}-operator-{self.starts}.log").open("wb")
        cmd = [
            sys.executable, "-m", "spofless", "run", "--standalone", "--log-format", "full", "--metrics-port", "0",
            "--liveness", self.liveness, "--data-center", self.name, "--etcd-endpoints", self.uplink.url,
            "--etcd-lease-seconds", str(LEASE_SECONDS), "--data-center-address", self.address,
        ]  # fmt: skip
        env = {**os.environ, "KUBECONFIG": self.kubeconfig}
        self.proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, cwd=ROOT, env=env)

    def signal_operator(self, sig: int) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(sig)
            if sig in (signal.SIGKILL, signal.SIGTERM):
                self.proc.wait(timeout=30)

    def operator_log(self, lines: int = 40) -> str:
        path = LOGS / f"{self.name}-operator-{self.starts}.log"
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:]) if path.exists() else ""


def store_logs(lines: int = 30) -> dict[str, str]:
    """The last lines of each etcd member's log (warnings and up: elections, leases revoked)."""
    return {
        path.stem: "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
        for path in sorted(STATE_LOGS.glob("etcd-*.log"))
    }


@dataclass
class World:
    zone: str
    dns_port: int
    datacenters: list[DataCenter] = field(default_factory=list)
    label: str = "shop"  # the test's own name under the zone: two tests' sites never share a hostname

    @property
    def hostname(self) -> str:
        return f"{self.label}.{self.zone}"

    def dc(self, name: str) -> DataCenter:
        return next(d for d in self.datacenters if d.name == name)

    def answers(self, server: DataCenter) -> set[str] | None:
        """The addresses `server`'s name server gives for the site's hostname; None when it gives no
        answer at all (no server, SERVFAIL, timeout). NXDOMAIN is an answer: the empty set."""
        resolver = dns.resolver.Resolver(configure=False)
        resolver.nameservers = [server.address]
        resolver.port = self.dns_port
        resolver.lifetime = 2.0
        resolver.cache = None
        try:
            return {r.address for r in resolver.resolve(self.hostname, "A")}
        except (dns.resolver.NXDOMAIN, dns.resolver.NoAnswer):
            return set()
        except dns.exception.DNSException:
            return None

    def in_dns(self, server: DataCenter) -> set[str]:
        """The data centers whose address `server` answers with."""
        by_address = {d.address: d.name for d in self.datacenters}
        return {by_address.get(a, a) for a in self.answers(server) or set()}

    @property
    def members(self) -> dict[str, str]:
        """The store's members by data center: their client URLs."""
        return {dc.name: dc.etcd for dc in self.datacenters}

    def store_leader(self) -> str:
        """The data center whose etcd member leads the store now ("" if none answers)."""
        return store.leader(self.members)

    def move_store_leader_off(self, name: str) -> None:
        """Hands the store's raft leadership to another member if `name`'s member holds it."""
        if self.store_leader() == name:
            store.move_leader_to(self.members, next(d.name for d in self.datacenters if d.name != name))

    def move_store_leader_to(self, name: str) -> None:
        """Hands the store's raft leadership to `name`'s member if another member holds it."""
        store.move_leader_to(self.members, name)

    def script(self, *args: str) -> None:
        done = subprocess.run([str(SCRIPT), *args], capture_output=True, text=True, timeout=300)
        assert done.returncode == 0, f"hack/datacenters.sh {' '.join(args)}: {done.stderr[-2000:]}"


def load() -> World:
    path = os.environ.get("SPOFLESS_DATACENTERS_FILE", "")
    topology = json.loads(Path(path).read_text())
    members = topology["etcd_endpoints"].split(",")
    world = World(zone=topology["zone"], dns_port=int(topology["dns_port"]))
    for entry in topology["datacenters"]:
        own = [m for m in members if entry["address"] in m]
        uplink = Uplink(own + [m for m in members if m not in own])
        world.datacenters.append(DataCenter(entry["name"], entry["address"], entry["etcd"], entry["dns"],
                                            entry["kubeconfig"], uplink))  # fmt: skip
    return world


def timed(what: str, probe: Any, timeout: float) -> float:
    """Seconds until `probe` holds (polled every 0.1 s); fails after `timeout`."""
    start = time.monotonic()
    deadline = start + timeout
    while time.monotonic() < deadline:
        if probe():
            return time.monotonic() - start
        time.sleep(0.1)
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")


__all__ = ["World", "load", "timed", "wait_for"]
