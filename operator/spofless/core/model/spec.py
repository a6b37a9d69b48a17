"""The ResilientSite spec: what a user asks for, and the single source of the CRD schema.

Field names are snake_case in Python and camelCase on the wire (aliases). Descriptions
become the `kubectl explain` text, so they are written for the person reading them.
"""

from __future__ import annotations

import copy
import re
from typing import Any, Literal

from pydantic import AwareDatetime, ConfigDict, Field, field_validator, model_validator

from spofless.core.model import podtemplate_schema
from spofless.core.model.base import Model

GROUP = "spofless.dev"
VERSION = "v1alpha1"
KIND = "ResilientSite"
PLURAL = "resilientsites"
SINGULAR = "resilientsite"
SHORT_NAMES = ["rsite", "rsites"]
DEFAULT_TOPOLOGY_KEY = "topology.kubernetes.io/zone"

# A label value: what a zone name must be to select nodes by it.
LABEL_VALUE_PATTERN = r"^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$"
# A qualified label key such as topology.kubernetes.io/zone.
LABEL_KEY_PATTERN = (
    r"^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*/)?[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$"
)

# A Service a site depends on: `name` (the site's namespace) or `namespace/name`, DNS labels both.
SERVICE_REF_PATTERN = r"^([a-z0-9]([-a-z0-9]*[a-z0-9])?/)?[a-z]([-a-z0-9]*[a-z0-9])?$"


class ServicePort(Model):
    """One port of the site's Service."""

    name: str | None = Field(
        default=None,
        max_length=15,
        pattern=r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$",
        description="Port name (an IANA_SVC_NAME); required when the Service has more than one port.",
    )
    port: int = Field(ge=1, le=65535, description="The port the Service exposes.")
    target_port: int | str | None = Field(
        default=None,
        description="The container port (number or name) traffic goes to; defaults to port.",
        json_schema_extra={"x-kubernetes-int-or-string": True},
    )
    protocol: Literal["TCP", "UDP", "SCTP"] = Field(default="TCP", description="TCP, UDP or SCTP.")


class ServiceSpec(Model):
    """The Service put in front of the site's pods in every zone."""

    type: Literal["ClusterIP", "NodePort", "LoadBalancer"] = Field(
        default="ClusterIP", description="Service type: ClusterIP, NodePort or LoadBalancer."
    )
    ports: list[ServicePort] = Field(
        default_factory=list,
        max_length=32,
        description="Ports to expose. Empty: the container ports of the template, or a headless Service if it has none.",
    )
    traffic_distribution: Literal["PreferSameZone", "PreferClose"] | None = Field(
        default=None,
        description="Set on the Service while the zones are balanced, so clients prefer endpoints in their own zone; "
        "lifted while a zone is lost, full, evacuated or short of ready pods, so one zone's traffic never lands on a "
        "few survivors. PreferSameZone needs Kubernetes 1.34+ (PreferClose: 1.31+).",
    )


class DisruptionBudgetSpec(Model):
    """The PodDisruptionBudget kept over the site's pods in every zone."""

    max_unavailable: int = Field(
        default=1,
        ge=0,
        description="Pods of the site, in all zones together, that voluntary disruptions (drains) may take down at once. "
        "While a zone is short, no other zone loses a pod; while a zone is being rolled out, none does. "
        "0 forbids every drain: reported as a warning.",
    )


class Evacuation(Model):
    """A zone to move out of on purpose (maintenance, a grey failure), until a given time."""

    zone: str = Field(min_length=1, max_length=63, pattern=LABEL_VALUE_PATTERN, description="The zone to leave.")
    until: AwareDatetime = Field(
        description="When the evacuation ends and the zone fails back as usual (RFC 3339, e.g. 2026-11-28T06:00:00Z)."
    )
    force: bool = Field(
        default=False,
        description="Evacuate even if fewer than minZones zones would be left in service (refused otherwise).",
    )


class SilentZoneSpec(Model):
    """Traffic out of a zone gone silent, before its nodes turn NotReady (see the docs' silent zones)."""

    enabled: bool = Field(
        default=True,
        description="When the operator judges a zone silent (every node Lease in it stopped renewing while the other "
        "zones renew theirs), take the site's pods there out of its Service (Ready=False) and move their share to "
        "the other zones at once, without waiting for the nodes to turn NotReady. false: wait for NotReady.",
    )
    after_seconds: int = Field(
        default=0,
        ge=0,
        le=3600,
        description="Seconds of silence to wait for beyond the operator's own judgement (its threshold is the Lease's "
        "renew interval plus 2 s: 12 s with the kubelet's defaults) before this site acts.",
    )


class FailoverSpec(Model):
    """How capacity moves when a zone is lost, full or evacuated, and when it comes back."""

    model_config = ConfigDict(
        json_schema_extra={
            "x-kubernetes-validations": [
                {
                    "rule": "!has(self.evacuate) || self.evacuate.all(e, self.evacuate.exists_one(f, f.zone == e.zone))",
                    "message": "spec.failover.evacuate must not list a zone twice",
                    "fieldPath": ".evacuate",
                    "reason": "FieldValueInvalid",
                },
            ]
        }
    )

    enabled: bool = Field(
        default=True, description="Move a lost zone's replicas to the healthy zones while the outage lasts."
    )
    failback_after_seconds: int = Field(
        default=60,
        ge=0,
        le=86400,
        description="How long a recovered zone must stay healthy, without a blink, before replicas move back to it.",
    )
    unschedulable_after_seconds: int = Field(
        default=60,
        ge=5,
        le=86400,
        description="A zone whose pods of the site stay Pending as unschedulable (no room) this long is full: "
        "its share moves to the other zones until it can schedule again. An image pull is not a trigger.",
    )
    silent_zone: SilentZoneSpec = Field(
        default_factory=SilentZoneSpec, description="A zone whose every node went silent at once."
    )
    evacuate: list[Evacuation] = Field(
        default_factory=list,
        max_length=64,
        description="Zones to move out of until a time: capacity is added and ready in the other zones before the "
        "zone's pods go. Refused (see the Evacuation condition) if fewer than minZones zones would be left, unless forced.",
    )


class DependencySpec(Model):
    """A Service the site needs in order to serve (a database, a cache, an API). spofless only reads it."""

    model_config = ConfigDict(
        json_schema_extra={
            "x-kubernetes-validations": [
                {
                    "rule": "self.service.matches('"
                    + SERVICE_REF_PATTERN
                    + "') && self.service.split('/').all(p, size(p) <= 63)",
                    "message": "dependsOn[].service must name a Service: `name` (in the site's namespace) or `namespace/name`, "
                    "each a DNS label of at most 63 characters (lower-case letters, digits and '-')",
                    "fieldPath": ".service",
                    "reason": "FieldValueInvalid",
                }
            ]
        }
    )

    service: str = Field(
        min_length=1,
        max_length=127,
        description="The Service: `name` in the site's namespace, or `namespace/name`.",
    )

    @field_validator("service")
    @classmethod
    def _service_ref(cls, value: str) -> str:
        if not re.match(SERVICE_REF_PATTERN, value) or any(len(p) > 63 for p in value.split("/")):
            raise ValueError("must name a Service: `name` or `namespace/name`, DNS labels of at most 63 characters")
        return value

    required: bool = Field(
        default=True,
        description="True (the default): the site cannot serve without it, so its single points of failure "
        "are the site's (AtRisk). False: they are reported as warnings.",
    )


class RolloutSpec(Model):
    """How a change of the template reaches the zones: one zone at a time, halting when health drops."""

    bake_seconds: int = Field(
        default=30,
        ge=0,
        le=86400,
        description="How long a zone's new pods must all stay ready before the next zone is started.",
    )
    progress_deadline_seconds: int = Field(
        default=300,
        ge=1,
        le=86400,
        description="How long a zone may take to get all its new pods ready before the rollout halts.",
    )
    auto_rollback: bool = Field(
        default=True, description="When the rollout halts, put the failed zone back on the last good template."
    )


# A data center's name: a DNS label (it names keys in the store and records in DNS).
DATA_CENTER_PATTERN = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$"
# A hostname the sites' name servers answer for: dot-separated DNS labels, at least two.
HOSTNAME_PATTERN = r"^([a-z0-9]([-a-z0-9]*[a-z0-9])?\.)+[a-z0-9]([-a-z0-9]*[a-z0-9])?$"
HOSTNAME_MESSAGE = (
    "spec.dataCenters.hostname must be a DNS name such as shop.example.com: at least two labels of lower-case "
    "letters, digits and '-' separated by dots, each at most 63 characters, 253 in all"
)


class DataCentersSpec(Model):
    """The same site in several data centers (one cluster and one spofless each, the same ResilientSite
    applied in every one), coordinated through one etcd that spans them, and answered for by CoreDNS."""

    model_config = ConfigDict(
        json_schema_extra={
            "x-kubernetes-validations": [
                {
                    "rule": "self.members.all(m, self.members.exists_one(n, n == m))",
                    "message": "spec.dataCenters.members must not list a data center twice",
                    "fieldPath": ".members",
                    "reason": "FieldValueInvalid",
                },
                {
                    "rule": "self.minDataCenters <= size(self.members)",
                    "message": "spec.dataCenters.minDataCenters cannot be larger than the number of members listed",
                    "fieldPath": ".minDataCenters",
                    "reason": "FieldValueInvalid",
                },
                {
                    "rule": "self.hostname.matches('"
                    + HOSTNAME_PATTERN.replace("\\", "\\\\")
                    + "') && self.hostname.split('.').all(l, size(l) <= 63)",
                    "message": HOSTNAME_MESSAGE,
                    "fieldPath": ".hostname",
                    "reason": "FieldValueInvalid",
                },
            ]
        }
    )

    members: list[str] = Field(
        min_length=1,
        max_length=16,
        description="The data centers the site runs in, by the names their spofless were given (--data-center). "
        "spec.replicas is split over those whose spofless holds its lease in the store.",
        json_schema_extra={
            "items": {"type": "string", "minLength": 1, "maxLength": 63, "pattern": DATA_CENTER_PATTERN}
        },
    )
    min_data_centers: int = Field(
        default=2,
        ge=1,
        le=16,
        description="Fewer data centers with ready replicas than this is a single point of failure.",
    )
    hostname: str = Field(
        min_length=3,
        max_length=253,
        description="The name clients resolve: each data center publishes its address under it (a record per "
        "data center with ready replicas), for the name servers of the data centers (CoreDNS, etcd plugin).",
    )
    ttl_seconds: int = Field(
        default=5,
        ge=1,
        le=3600,
        description="The DNS TTL of the records: how long a client may keep a dead data center's address after it "
        "left DNS. Above 30 s the status warns that failover waits on clients' caches.",
    )
    failback_after_seconds: int = Field(
        default=60,
        ge=0,
        le=86400,
        description="How long a data center that came back must hold its lease before it takes its share back "
        "from the others.",
    )

    @field_validator("members")
    @classmethod
    def _distinct(cls, value: list[str]) -> list[str]:
        if len(set(value)) != len(value):
            raise ValueError("must not list a data center twice")
        return value

    @field_validator("hostname")
    @classmethod
    def _hostname(cls, value: str) -> str:
        if not re.match(HOSTNAME_PATTERN, value) or any(len(label) > 63 for label in value.split(".")):
            raise ValueError(HOSTNAME_MESSAGE)
        return value

    @model_validator(mode="after")
    def _enough_members(self) -> DataCentersSpec:
        if self.min_data_centers > len(self.members):
            raise ValueError("minDataCenters cannot be larger than the number of members listed")
        return self


def _template_schema() -> dict[str, Any]:
    """The PodTemplateSpec's structural schema, generated from the pinned Kubernetes' OpenAPI, with
    spofless' own rules on top: a spec with at least one container, each with a name and an image."""
    schema = copy.deepcopy(podtemplate_schema.SCHEMA)
    schema["description"] = (
        "The pod template, as in a Deployment (Kubernetes v1.36 fields; a field of the wrong type is refused). "
        "spofless adds its labels, the zone's node affinity and a spread over the zone's nodes."
    )
    schema["required"] = ["spec"]
    containers = schema["properties"]["spec"]["properties"]["containers"]
    containers.update(minItems=1, maxItems=64, description="The pod's containers; at least one.")
    container = containers["items"]
    container["required"] = ["name", "image"]
    container["properties"]["name"]["maxLength"] = 63
    container["properties"]["image"]["minLength"] = 1
    return schema


TEMPLATE_SCHEMA: dict[str, Any] = _template_schema()


class ResilientSiteSpec(Model):
    """The desired state of a site that must never stand on a single pillar."""

    model_config = ConfigDict(
        json_schema_extra={
            "x-kubernetes-validations": [
                {
                    "rule": "!has(self.zones) || self.minZones <= size(self.zones)",
                    "message": "minZones cannot be larger than the number of zones listed in spec.zones",
                    "fieldPath": ".minZones",
                    "reason": "FieldValueInvalid",
                },
                {
                    "rule": "!has(self.dependsOn) || self.dependsOn.all(d, self.dependsOn.exists_one(e, e.service == d.service))",
                    "message": "spec.dependsOn must not list a Service twice",
                    "fieldPath": ".dependsOn",
                    "reason": "FieldValueInvalid",
                },
                {
                    "rule": "!has(self.zones) || self.zones.all(z, self.zones.exists_one(y, y == z))",
                    "message": "spec.zones must not list a zone twice",
                    "fieldPath": ".zones",
                    "reason": "FieldValueInvalid",
                },
                {
                    "rule": "!has(self.zones) || !has(self.failover) || !has(self.failover.evacuate) || "
                    "self.failover.evacuate.all(e, e.zone in self.zones)",
                    "message": "every zone in spec.failover.evacuate must be one of spec.zones",
                    "fieldPath": ".failover.evacuate",
                    "reason": "FieldValueInvalid",
                },
            ]
        }
    )

    replicas: int = Field(
        default=3,
        ge=0,
        le=10000,
        description="Total replicas across all zones (kubectl scale and a HorizontalPodAutoscaler set it). "
        "Between 1 and minZones - 1, minZones replicas run (one per zone) and the status warns.",
    )
    min_zones: int = Field(
        default=2,
        ge=1,
        le=64,
        description="Fewer zones with ready replicas than this is a single point of failure.",
    )
    zones: list[str] | None = Field(
        default=None,
        min_length=1,
        max_length=64,
        description="Zones to run in. Default: every zone found in the nodes' topologyKey label.",
        json_schema_extra={
            "items": {"type": "string", "minLength": 1, "maxLength": 63, "pattern": LABEL_VALUE_PATTERN}
        },
    )
    topology_key: str = Field(
        default=DEFAULT_TOPOLOGY_KEY,
        max_length=316,
        pattern=LABEL_KEY_PATTERN,
        description="The node label whose value names a node's zone.",
    )
    template: dict[str, Any] = Field(json_schema_extra=TEMPLATE_SCHEMA)
    service: ServiceSpec = Field(default_factory=ServiceSpec, description="The Service over the site's pods.")
    disruption_budget: DisruptionBudgetSpec = Field(
        default_factory=DisruptionBudgetSpec, description="The site's PodDisruptionBudget, across its zones."
    )
    failover: FailoverSpec = Field(default_factory=FailoverSpec, description="Failover and failback between zones.")
    depends_on: list[DependencySpec] = Field(
        default_factory=list,
        max_length=32,
        description="Services the site needs to serve (its data store, say). Their single points of failure "
        "count in the site's verdict and what-if; spofless never changes them.",
    )
    rollout: RolloutSpec = Field(
        default_factory=RolloutSpec, description="Template changes roll out one zone at a time (see README)."
    )
    data_centers: DataCentersSpec | None = Field(
        default=None,
        description="Run the site in several data centers and answer for it in DNS (docs/mechanisms/datacenters.md). "
        "Absent: this cluster only.",
    )
