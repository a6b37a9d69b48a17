"""Set-up for the traffic scenario across data centers on kind: the clusters, etcd members and name
servers hack/kind-datacenters.sh brought up (its JSON file in SPOFLESS_KIND_DATACENTERS_FILE), each
cluster running spofless from its image and chart. Skipped, with the reason, anywhere else."""

from __future__ import annotations

import json
import os
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import dns.exception
import dns.resolver
import pytest

from tests.datacenters import store
from tests.e2e.cluster import ClusterAt

FILE = os.environ.get("SPOFLESS_KIND_DATACENTERS_FILE", "")
SKIP_REASON = (
    "needs two kind clusters as data centers with etcd and CoreDNS beside them: SPOFLESS_KIND_DATACENTERS_FILE "
    "is not set (hack/kind-datacenters.sh sets it; hack/kind-e2e.sh runs it at its end)"
)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "tests/datacenters_kind" in str(item.fspath):
            item.add_marker(pytest.mark.datacenters_kind)
            if not FILE:
                item.add_marker(pytest.mark.skip(reason=SKIP_REASON))


@dataclass
class KindDataCenter(ClusterAt):
    name: str
    kubeconfig: str
    dns: str  # its name server's address (port 53)
    etcd: str  # its etcd member's client URL
    node: str  # its one node's container

    KUBECTL_TIMEOUT = 30

    def get(self, kind: str, name: str = "", namespace: str = "", selector: str = "", *extra: str) -> Any:
        """The object, or the list of items; None (or []) when the cluster does not answer."""
        try:
            return super().get(kind, name, namespace, selector, "--request-timeout=5s", *extra)
        except (AssertionError, subprocess.TimeoutExpired, json.JSONDecodeError):
            return None if name else []

    def scale(self, site: str, namespace: str) -> int:
        """The replicas its Deployments ask for (its share, as this data center runs it)."""
        items = self.get("deployments", namespace=namespace, selector=f"spofless.dev/site={site}")
        return sum(int(d["spec"].get("replicas") or 0) for d in items)

    def node_address(self) -> str:
        nodes = self.get("nodes")
        return str(next(a["address"] for n in nodes for a in n["status"]["addresses"] if a["type"] == "InternalIP"))

    def node_ready(self) -> bool:
        nodes = self.get("nodes")
        return bool(nodes) and all(
            any(c["type"] == "Ready" and c["status"] == "True" for c in n["status"].get("conditions", []))
            for n in nodes
        )

    def answers(self, hostname: str) -> set[str] | None:
        """The addresses its name server gives for `hostname`; None when it gives no answer at all."""
        resolver = dns.resolver.Resolver(configure=False)
        resolver.nameservers = [self.dns]
        resolver.lifetime = 1.0
        resolver.cache = None
        try:
            return {r.address for r in resolver.resolve(hostname, "A")}
        except (dns.resolver.NXDOMAIN, dns.resolver.NoAnswer):
            return set()
        except dns.exception.DNSException:
            return None

    def store_status(self) -> dict[str, Any]:
        """Its etcd member's status ({} when it does not answer): its id, and the leader it follows."""
        return store.member_status(self.etcd)


@dataclass
class KindWorld:
    zone: str
    site_image: str
    script: str
    datacenters: list[KindDataCenter]
    witness: str  # the third etcd member's client URL

    def dc(self, name: str) -> KindDataCenter:
        return next(d for d in self.datacenters if d.name == name)

    def move_store_leader_to(self, name: str) -> None:
        """Hands the store's raft leadership to `name`'s member if another member holds it."""
        store.move_leader_to({**{dc.name: dc.etcd for dc in self.datacenters}, "witness": self.witness}, name)

    def run_script(self, *args: str) -> None:
        done = subprocess.run([self.script, *args], capture_output=True, text=True, timeout=180)
        assert done.returncode == 0, f"{Path(self.script).name} {' '.join(args)}: {done.stderr[-2000:]}"


@pytest.fixture(scope="session")
def kind_world() -> KindWorld:
    topology = json.loads(Path(FILE).read_text())
    dcs = [KindDataCenter(d["name"], d["kubeconfig"], d["dns"], d["etcd"], d["node"]) for d in topology["datacenters"]]
    return KindWorld(topology["zone"], topology["site_image"], topology["script"], dcs, topology["witness"])
