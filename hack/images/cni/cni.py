"""A minimal CNI for kind nodes built without a registry (kind's own CNI is not built here).

On each node (a hostNetwork DaemonSet): writes a ptp + host-local CNI config for the node's podCIDR,
and keeps a route to every other node's podCIDR via that node's InternalIP. All kind nodes share one
Docker network, so plain routes are enough. No NetworkPolicy, no masquerade to outside the cluster.
Reads the nodes every few seconds; the set of nodes in a test cluster is small.
"""

import json
import os
import ssl
import subprocess
import time
import urllib.request
from typing import Any

SA = "/var/run/secrets/kubernetes.io/serviceaccount"
CONFIG = "/etc/cni/net.d/10-spofless.conflist"
NODE = os.environ["NODE_NAME"]


def nodes() -> list[dict[str, Any]]:
    host, port = os.environ["KUBERNETES_SERVICE_HOST"], os.environ["KUBERNETES_SERVICE_PORT"]
    with open(f"{SA}/token") as f:
        token = f.read().strip()
    request = urllib.request.Request(
        f"https://{host}:{port}/api/v1/nodes", headers={"Authorization": f"Bearer {token}"}
    )
    context = ssl.create_default_context(cafile=f"{SA}/ca.crt")
    with urllib.request.urlopen(request, context=context, timeout=10) as answer:
        items: list[dict[str, Any]] = json.load(answer)["items"]
        return items


def internal_ip(node: dict[str, Any]) -> str:
    return str(next(a["address"] for a in node["status"].get("addresses", []) if a["type"] == "InternalIP"))


def write_config(pod_cidr: str) -> None:
    config = {
        "cniVersion": "1.0.0",
        "name": "spofless-kind",
        "plugins": [
            {
                "type": "ptp",
                "ipMasq": False,
                "ipam": {"type": "host-local", "ranges": [[{"subnet": pod_cidr}]], "routes": [{"dst": "0.0.0.0/0"}]},
            },
            {"type": "portmap", "capabilities": {"portMappings": True}},
        ],
    }
    text = json.dumps(config, indent=2)
    try:
        with open(CONFIG) as f:
            if f.read() == text:
                return
    except FileNotFoundError:
        pass
    with open(CONFIG + ".tmp", "w") as f:
        f.write(text)
    os.replace(CONFIG + ".tmp", CONFIG)  # the kubelet never reads half a file
    print(f"wrote {CONFIG} for {pod_cidr}", flush=True)


def sync() -> None:
    for node in nodes():
        cidr = node["spec"].get("podCIDR")
        if not cidr:
            continue
        if node["metadata"]["name"] == NODE:
            write_config(cidr)
        else:
            subprocess.run(["ip", "route", "replace", cidr, "via", internal_ip(node)], check=True)


def main() -> None:
    while True:
        try:
            sync()
        except Exception as exc:  # the API may not answer yet; try again shortly
            print(f"sync failed: {exc}", flush=True)
        time.sleep(5)


if __name__ == "__main__":
    main()
