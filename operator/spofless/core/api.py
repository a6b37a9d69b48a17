"""The ResilientSite API: spec and status models, the single source of the CRD schema.

Field names are snake_case in Python and camelCase on the wire (aliases). Descriptions
become the `kubectl explain` text, so they are written for the person reading them.
"""

from __future__ import annotations

import copy
import re
from typing import Any, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, field_validator
from pydantic.alias_generators import to_camel

from spofless.core import podtemplate_schema

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

Phase = Literal["Redundant", "Degraded", "AtRisk", "Invalid", "Pending"]
# Why a zone is out of service: no Ready node, the site's pods stuck unschedulable, or moved out on purpose.
Cause = Literal["ZoneLost", "ZoneFull", "Evacuated"]
Severity = Literal["SPOF", "Warning"]
Scope = Literal[
    "Replica",
    "Zone",
    "Node",
    "Topology",
    "Service",
    "DisruptionBudget",
    "Capacity",
    "Dependency",
    "Rollout",
    "Readiness",
]
# A Service a site depends on: `name` (the site's namespace) or `namespace/name`, DNS labels both.
SERVICE_REF_PATTERN = r"^([a-z0-9]([-a-z0-9]*[a-z0-9])?/)?[a-z]([-a-z0-9]*[a-z0-9])?$"


class Model(BaseModel):
    """Base of every API model: camelCase on the wire, unknown fields refused."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="forbid")

    def wire(self) -> dict[str, Any]:
        """The model as the API server stores it (camelCase, no unset optionals)."""
        return self.model_dump(by_alias=True, exclude_none=True, mode="json")


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


class ZoneStatus(Model):
    """What one zone holds of the site."""

    name: str
    deployment: str = Field(description="The zone's Deployment.")
    desired_replicas: int = Field(description="Replicas the zone's Deployment is asked for.")
    ready_replicas: int = Field(description="Ready pods of the site in the zone.")
    nodes: int = Field(description="Nodes in the zone.")
    ready_nodes: int = Field(description="Nodes in the zone that are Ready and schedulable.")
    healthy: bool = Field(description="False when the zone is lost: no Ready node is left in it.")
    cause: Cause | None = Field(
        default=None,
        description="Why the zone is out of service: ZoneLost (no Ready node), ZoneFull (the site's pods stuck "
        "unschedulable), Evacuated (spec.failover.evacuate). Absent when it is in service.",
    )
    since: str | None = Field(default=None, description="When the zone last went out of service or back in (RFC 3339).")


class Finding(Model):
    """One single point of failure (or a warning) found in the site."""

    scope: Scope
    name: str = Field(description="The zone, node, replica or object that is the single point.")
    severity: Severity = "SPOF"
    message: str


class DependencyLeft(Model):
    """What losing one zone would leave of one dependency."""

    service: str
    ready_endpoints_left: int


class ZoneLoss(Model):
    """What losing one more zone would leave."""

    zone: str
    ready_replicas_left: int
    ready_zones_left: int
    spof: bool = Field(description="True when the site would then have a single point of failure, or no replica.")
    absorbable: bool | None = Field(
        default=None,
        description="True when the other zones have room (pods, CPU, memory) for the replicas that would move, "
        "every site's in that zone counted. Absent when the nodes report no allocatable resources.",
    )
    would_stay_pending: int | None = Field(
        default=None, description="Replicas of this site that would find no room and stay Pending, at worst."
    )
    dependencies: list[DependencyLeft] | None = Field(
        default=None, description="Ready endpoints each dependency would have left."
    )
    down: bool | None = Field(
        default=None,
        description="True when the site could not serve: no replica left, or a required dependency with no endpoint.",
    )


class Workload(Model):
    """The workload behind a dependency's Service, where it can be told from the Service's selector."""

    kind: str
    name: str
    replicas: int | None = None


class DependencyStatus(Model):
    """One dependency as observed: where its ready endpoints are."""

    service: str = Field(description="namespace/name of the Service.")
    required: bool
    found: bool = Field(description="False when no such Service exists.")
    ready_endpoints: int = 0
    zones: dict[str, int] = Field(default_factory=dict, description="Ready endpoints per zone.")
    nodes: int = Field(default=0, description="Distinct nodes the ready endpoints run on.")
    workloads: list[Workload] = Field(default_factory=list, description="Workloads the Service selects.")


class EvacuationStatus(Model):
    """What became of one entry of spec.failover.evacuate."""

    zone: str
    until: str
    state: Literal["Evacuating", "Evacuated", "Ended", "Refused"] = Field(
        description="Evacuating: capacity is moving out; Evacuated: the zone runs none of the site's pods; "
        "Ended: past until, the zone fails back; Refused: see message."
    )
    message: str


class Condition(Model):
    """A standard metav1.Condition."""

    type: str
    status: Literal["True", "False", "Unknown"]
    reason: str
    message: str
    last_transition_time: str
    observed_generation: int | None = None


RolloutPhase = Literal["Complete", "Progressing", "Baking", "Waiting", "Halted"]


class RolloutStatus(Model):
    """Where the rollout of the current template stands. The zones' Deployments say which revision
    each runs; this keeps only what they cannot: the clocks and the halt."""

    target_revision: str = Field(description="Hash of spec.template: the revision being rolled out.")
    stable_revision: str | None = Field(default=None, description="The last revision every zone ran.")
    phase: RolloutPhase = Field(description="Complete, Progressing, Baking, Waiting (to start a zone) or Halted.")
    message: str = ""
    zones_done: list[str] = Field(default_factory=list, description="Zones on the target revision, baked.")
    zone_in_progress: str | None = Field(default=None, description="The zone being rolled out now.")
    zones_pending: list[str] = Field(default_factory=list, description="Zones still on an older revision, in order.")
    started: str | None = Field(default=None, description="When the zone in progress got the target revision.")
    ready_since: str | None = Field(default=None, description="When all its new pods turned ready (the bake).")
    ready_at_bake: int | None = Field(default=None, description="Its ready new pods when the bake started.")
    halted_zone: str | None = Field(default=None, description="The zone the rollout halted in.")
    halt_reason: str | None = None
    resumed: str | None = Field(default=None, description="The resume annotation value last acted on.")


class ResilientSiteStatus(Model):
    """What the operator observed and decided, written by the operator only."""

    observed_generation: int | None = Field(default=None, description="The spec generation this status describes.")
    phase: Phase = Field(
        default="Pending",
        description="Redundant: no single point of failure. Degraded: a zone is lost but the site is still spread. "
        "AtRisk: a single point of failure or no ready replica. Invalid: the spec cannot be carried out (see conditions).",
    )
    spof: bool = Field(default=True, description="True while the site has a single point of failure.")
    message: str = Field(default="", description="One line a person reads first.")
    replicas: int = Field(
        default=0,
        description="The site's current scale, as the /scale subresource and a HorizontalPodAutoscaler read it: "
        "replicas asked of the zones in service. A lost, full or evacuated zone's kept pods and the surplus held "
        "during a failback are not counted, so this never exceeds the scale the spec asks for "
        "(minZones when spec.replicas is below it).",
    )
    selector: str = Field(default="", description="The label selector of the site's pods, for the /scale subresource.")
    ready_replicas: int = Field(default=0, description="Ready pods of the site, on Ready nodes.")
    ready_zones: int = Field(default=0, description="Zones with at least one ready pod of the site.")
    zones: list[ZoneStatus] = Field(
        default_factory=list, description="One entry per zone, empty or lost zones included."
    )
    known_zones: list[str] = Field(
        default_factory=list, description="Every zone the site has had nodes in; a vanished one stays reported."
    )
    single_points_of_failure: list[Finding] = Field(default_factory=list, description="Empty when there is none.")
    zone_loss: list[ZoneLoss] = Field(default_factory=list, description="What-if: what losing each zone would leave.")
    evacuations: list[EvacuationStatus] = Field(
        default_factory=list, description="One entry per spec.failover.evacuate entry."
    )
    traffic_distribution: str = Field(
        default="",
        description="The trafficDistribution set on the Service now; empty while lifted or not asked for.",
    )
    rollout: RolloutStatus | None = Field(default=None, description="The zone-by-zone rollout of the template.")
    dependencies: list[DependencyStatus] = Field(
        default_factory=list, description="The Services in spec.dependsOn, as observed."
    )
    conditions: list[Condition] = Field(
        default_factory=list,
        description="Ready, Redundant, Reconciled, FailoverActive, CapacityShort, RolloutHalted, and Evacuation, "
        "TrafficDistribution and DependenciesReady when asked for, in the standard shape.",
    )
