"""The store's raft leadership, through each etcd member's HTTP gateway: who leads, and handing it over.
Both data-center worlds (local processes, and containers beside kind) use it."""

from __future__ import annotations

import json
import urllib.request
from collections.abc import Mapping
from typing import Any

from tests.e2e.cluster import wait_for


def member_status(endpoint: str) -> dict[str, Any]:
    """A member's status ({} when it does not answer): its id (header.member_id), the leader it follows."""
    request = urllib.request.Request(f"{endpoint}/v3/maintenance/status", data=b"{}", method="POST")
    try:
        with urllib.request.urlopen(request, timeout=2) as reply:
            return dict(json.load(reply))
    except OSError:
        return {}


def leads(status: Mapping[str, Any]) -> bool:
    return bool(status) and status.get("leader") == status.get("header", {}).get("member_id")


def leader(members: Mapping[str, str]) -> str:
    """The name (of `members`, name -> client URL) whose member leads the store now; "" if none answers."""
    return next((name for name, url in members.items() if leads(member_status(url))), "")


def move_leader_to(members: Mapping[str, str], name: str) -> None:
    """Hands the store's raft leadership to `name`'s member, if another member holds it (only the leader
    can hand it over)."""
    wait_for("a store leader", lambda: leader(members) != "", timeout=15)
    current = leader(members)
    if current == name:
        return
    target = member_status(members[name])["header"]["member_id"]
    url = f"{members[current]}/v3/maintenance/transfer-leadership"
    body = json.dumps({"targetID": target}).encode()
    with urllib.request.urlopen(urllib.request.Request(url, data=body, method="POST"), timeout=10):
        pass
    wait_for(f"the store's leader on {name}", lambda: leader(members) == name, timeout=15)
