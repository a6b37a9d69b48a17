"""The kinds spofless owns or serves, in one table.

The operator's watches, the API client's paths and the desired manifests' apiVersion and kind
all come from here, so adding or moving a kind is one edit.
"""

from __future__ import annotations

from dataclasses import dataclass

from spofless.core import api


@dataclass(frozen=True)
class Kind:
    kind: str
    group: str  # "" for the core group
    version: str
    plural: str

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version

    @property
    def path_prefix(self) -> str:
        """The API path the kind's objects live under."""
        return f"/apis/{self.group}/{self.version}" if self.group else f"/api/{self.version}"

    def path(self, namespace: str, name: str, subresource: str = "") -> str:
        tail = f"/{subresource}" if subresource else ""
        return f"{self.path_prefix}/namespaces/{namespace}/{self.plural}/{name}{tail}"


SITE = Kind(api.KIND, api.GROUP, api.VERSION, api.PLURAL)
DEPLOYMENT = Kind("Deployment", "apps", "v1", "deployments")
DISRUPTION_BUDGET = Kind("PodDisruptionBudget", "policy", "v1", "poddisruptionbudgets")
SERVICE = Kind("Service", "", "v1", "services")
STATEFUL_SET = Kind("StatefulSet", "apps", "v1", "statefulsets")  # read only: what a dependency fronts

POD = Kind("Pod", "", "v1", "pods")
ENDPOINT_SLICE = Kind("EndpointSlice", "discovery.k8s.io", "v1", "endpointslices")
NODE = Kind("Node", "", "v1", "nodes")

OWNED: tuple[Kind, ...] = (DEPLOYMENT, DISRUPTION_BUDGET, SERVICE)  # the children of a site
LABELLED: tuple[Kind, ...] = (*OWNED, POD, ENDPOINT_SLICE)  # everything carrying a site's labels
BY_KIND: dict[str, Kind] = {k.kind: k for k in (SITE, *OWNED)}
