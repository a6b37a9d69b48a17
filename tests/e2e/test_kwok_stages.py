"""The local cluster's own KWOK stage that plays a kubelet's status sync (hack/kwok/stages.yaml:
pod-ready-after-stale-node-health). Without it, a pod bound the moment its zone returns could be marked
not ready by the node controller's stale view of the node and stay so for good, which no real cluster
does. It must re-ready only that case: a pod on a node that really died, and a pod spofless took out of
a silent zone, stay unready.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import Any

from .cluster import apply, get, kubectl, stays, wait_for
from .conftest import needs_kwok, zones
from .faults import zone_nodes
from .sites import SITE_IMAGE

pytestmark = needs_kwok("its stages play the kubelets")

STAGE_DELAY = 5  # seconds: the stage's delay before it writes Ready=True back


def ready(pod: dict[str, Any]) -> dict[str, Any]:
    return next(c for c in pod["status"]["conditions"] if c["type"] == "Ready")


def started_pod(ns: str, name: str) -> dict[str, Any]:
    node = zone_nodes(zones()[0])[0]
    apply({
        "apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "namespace": ns},
        "spec": {"nodeName": node, "containers": [{"name": "app", "image": SITE_IMAGE}]},
    })  # fmt: skip
    wait_for(f"pod {name} Ready", lambda: is_ready(ns, name))
    return get("pod", name, ns)  # type: ignore[no-any-return]


def mark_not_ready(pod: dict[str, Any], after_start: int, reason: str = "") -> None:
    """Writes Ready=False as the node controller does (no reason) or as spofless does (a reason),
    dated `after_start` seconds after the pod started."""
    start = datetime.strptime(pod["status"]["startTime"], "%Y-%m-%dT%H:%M:%SZ")
    cond = ready(pod)
    cond.update(
        status="False", lastTransitionTime=(start + timedelta(seconds=after_start)).strftime("%Y-%m-%dT%H:%M:%SZ")
    )
    if reason:
        cond["reason"] = reason
    kubectl("replace", "--subresource=status", "-f", "-", stdin=json.dumps(pod))


def is_ready(ns: str, name: str) -> bool:
    return bool(ready(get("pod", name, ns))["status"] == "True")


def test_a_pod_marked_not_ready_as_it_started_is_ready_again(ns: str) -> None:
    mark_not_ready(started_pod(ns, "stale"), after_start=1)
    assert not is_ready(ns, "stale")
    wait_for(
        "the pod Ready again, as its kubelet would write it", lambda: is_ready(ns, "stale"), timeout=STAGE_DELAY + 30
    )


def test_a_pod_marked_later_or_with_a_reason_stays_not_ready(ns: str) -> None:
    mark_not_ready(started_pod(ns, "died"), after_start=10)  # its node died well after it started
    mark_not_ready(started_pod(ns, "silent"), after_start=1, reason="SpoflessZoneSilent")
    stays(
        "both pods not ready", lambda: not is_ready(ns, "died") and not is_ready(ns, "silent"), seconds=STAGE_DELAY + 5
    )
