"""What holding a data center's place in the store costs: etcd writes (raft proposals committed), the
publisher's CPU, and memory, with N sites published by three data centers, in steady state.

    python -m bench.datacenter_store --etcd http://127.0.22.1:2379 --sites 1000 [--seconds 60]

Needs one etcd (hack/datacenters.sh up --no-clusters gives three). No cluster: the three publishers
(operator/datacenters.py, with their 5 s leases) run in this process on stand-in indices where every
site has ready pods. The store is wiped first: point it at a store of its own.
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import re
import resource
import time
from typing import Any

import aiohttp

from spofless.core.observed.records import Node, Pod
from spofless.core.placement import datacenters as dc_split
from spofless.operator.datacenters import Presence, Settings
from spofless.operator.engine import Engine, Indices
from spofless.operator.etcd import Etcd
from spofless.operator.leader import Leadership

MEMBERS = ("dc1", "dc2", "dc3")


class _Reconciler:
    """The engine's reconciler is never called here: no pass runs."""

    def reset(self) -> None:
        return None


async def proposals(url: str) -> float:
    async with aiohttp.ClientSession() as session, session.get(f"{url}/metrics") as reply:
        text = await reply.text()
    return sum(float(v) for v in re.findall(r"^etcd_server_proposals_committed_total (\S+)$", text, re.M))


def _fixed(address: dc_split.Address, _key: tuple[str, str], _body: Any) -> dc_split.Address:
    return address


def indices(sites: int) -> Indices:
    bodies: dict[tuple[str, str], Any] = {
        ("web", f"s{i}"): [{
            "metadata": {"name": f"s{i}", "namespace": "web"},
            "spec": {"replicas": 6, "minZones": 1, "template": {},
                     "dataCenters": {"members": list(MEMBERS), "hostname": f"s{i}.sites.spofless.test"}},
        }]
        for i in range(sites)
    }  # fmt: skip
    pods = {key: [Pod(f"p{j}", "zone-a", "n1", True, False) for j in range(2)] for key in bodies}
    return Indices(bodies, {None: [Node("n1", {}, True)]}, pods, {}, {}, {}, {})


async def run(url: str, sites: int, seconds: float) -> None:
    store = Etcd([url])
    await store.delete("/", prefix=True)
    await store.close()
    leadership = Leadership("bench", always=True)
    tasks = []
    for name in MEMBERS:
        engine = Engine(reconciler=_Reconciler(), leadership=leadership, workers=0)  # type: ignore[arg-type]
        engine.indices, engine.indexed = indices(sites), True
        where = functools.partial(_fixed, dc_split.Address((f"10.0.0.{name[-1]}",), 0, "DataCenter"))
        presence = Presence(Settings(name, (url,)), Etcd([url]), leadership, engine, where)
        tasks.append(asyncio.create_task(presence.run()))
    await asyncio.sleep(15)  # everything published once
    cpu, before, start = time.process_time(), await proposals(url), time.monotonic()
    await asyncio.sleep(seconds)
    elapsed = time.monotonic() - start
    rate = (await proposals(url) - before) / elapsed
    share = (time.process_time() - cpu) / len(MEMBERS) / elapsed * 100
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024
    print(f"{sites} sites, {len(MEMBERS)} data centers, {elapsed:.0f} s steady: {rate:.2f} raft proposals/s, "
          f"publisher CPU {share:.1f} % of a core per data center, max RSS {rss} MB (all three)")  # fmt: skip
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--etcd", required=True)
    parser.add_argument("--sites", type=int, default=1000)
    parser.add_argument("--seconds", type=float, default=60)
    args = parser.parse_args()
    asyncio.run(run(args.etcd, args.sites, args.seconds))


if __name__ == "__main__":
    main()
