"""The audit's reader with a stand-in for the API: pages, label selectors, and a refused list."""

import asyncio
from collections.abc import AsyncIterator
from typing import Any

from kubernetes_asyncio.client.exceptions import ApiException

from spofless.audit.reader import Reader

DEPLOYMENT = {"kind": "Deployment", "metadata": {"namespace": "app", "name": "web"}, "spec": {"replicas": 2}}


class FakeKube:
    def __init__(self, refuse: set[str]) -> None:
        self.refuse = refuse
        self.calls: list[tuple[str, str | None]] = []

    async def list_pages(self, url: str, label_selector: str | None = None) -> AsyncIterator[list[dict[str, Any]]]:
        self.calls.append((url, label_selector))
        if url.rsplit("/", 1)[-1] in self.refuse:
            raise ApiException(status=403, reason="Forbidden")
        if url.endswith("/deployments"):
            yield [DEPLOYMENT]
            yield [DEPLOYMENT | {"metadata": {"namespace": "app", "name": "api"}}]


def test_a_refused_list_is_noted_and_the_rest_is_read() -> None:
    kube = FakeKube(refuse={"poddisruptionbudgets", "nodes"})
    inv, chosen = asyncio.run(Reader(kube, "app", None, "zone").inventory())  # type: ignore[arg-type]
    assert [(m.resource, m.where) for m in inv.missing] == [
        ("nodes", "cluster-wide"),
        ("poddisruptionbudgets.policy", "app"),
    ]
    assert inv.nodes is None and inv.budgets is None and inv.pods == []
    assert [w.name for w in inv.workloads or []] == ["web", "api"], "every page is read"
    assert chosen is None
    assert ("/api/v1/nodes", None) in kube.calls and ("/api/v1/namespaces/app/pods", None) in kube.calls


def test_a_selector_picks_workloads_and_services_but_every_replicaset_is_read() -> None:
    kube = FakeKube(refuse=set())
    _, chosen = asyncio.run(Reader(kube, None, "tier=web", "zone").inventory())  # type: ignore[arg-type]
    assert chosen == {("Deployment", "app", "web"), ("Deployment", "app", "api")}
    assert ("/apis/apps/v1/replicasets", None) in kube.calls and ("/apis/apps/v1/replicasets", "tier=web") in kube.calls
    assert ("/apis/apps/v1/deployments", "tier=web") in kube.calls and ("/api/v1/pods", None) in kube.calls
