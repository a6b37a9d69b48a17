"""The kinds spofless owns or serves, in one table.

The operator's watches, the API client's paths (kube.py) and the children's apiVersion and kind
all come from here, so adding or moving a kind is one edit.
"""

from __future__ import annotations

from dataclasses import dataclass

from spofless.core.model.spec import GROUP, KIND, PLURAL, VERSION


@dataclass(frozen=True)
class Kind:
    kind: str
    group: str  # "" for the core group
    version: str
    plural: str

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version


SITE = Kind(KIND, GROUP, VERSION, PLURAL)
DEPLOYMENT = Kind("Deployment", "apps", "v1", "deployments")
DISRUPTION_BUDGET = Kind("PodDisruptionBudget", "policy", "v1", "poddisruptionbudgets")
SERVICE = Kind("Service", "", "v1", "services")
STATEFUL_SET = Kind("StatefulSet", "apps", "v1", "statefulsets")  # read only: what a dependency fronts

POD = Kind("Pod", "", "v1", "pods")
ENDPOINT_SLICE = Kind("EndpointSlice", "discovery.k8s.io", "v1", "endpointslices")
NODE = Kind("Node", "", "v1", "nodes")
LEASE = Kind("Lease", "coordination.k8s.io", "v1", "leases")  # node heartbeats, and the operator's leader

OWNED: tuple[Kind, ...] = (DEPLOYMENT, DISRUPTION_BUDGET, SERVICE)  # the children of a site
LABELLED: tuple[Kind, ...] = (*OWNED, POD, ENDPOINT_SLICE)  # everything carrying a site's labels
BY_KIND: dict[str, Kind] = {k.kind: k for k in (SITE, *OWNED)}
