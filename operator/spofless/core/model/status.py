"""The ResilientSite status: what the operator observed and decided, and its memory between passes."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from spofless.core.model.base import Model
from spofless.core.model.times import Time

Phase = Literal["Redundant", "Degraded", "AtRisk", "Invalid", "Pending"]
# Why a zone is out of service: no Ready node, the site's pods stuck unschedulable, or moved out on purpose.
Cause = Literal["ZoneLost", "ZoneSilent", "ZoneFull", "Evacuated"]
CAUSE_WORDS: dict[Cause, str] = {
    "ZoneLost": "lost", "ZoneSilent": "silent", "ZoneFull": "full", "Evacuated": "evacuated",
}  # fmt: skip  # "zone b is ..."
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
    "Status",
    "DataCenter",
]


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
    since: Time | None = Field(
        default=None, description="When the zone last went out of service or back in (RFC 3339)."
    )
    gone_since: Time | None = Field(
        default=None,
        description="When the zone's last Node object disappeared (RFC 3339). A zone that spec.zones does not list "
        "is forgotten after 24 hours without a node: its Deployment is deleted then, never before.",
    )


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


class DataCenterStatus(Model):
    """One data center of spec.dataCenters, as this data center reads the store."""

    name: str
    live: bool = Field(description="Its spofless holds its lease in the store.")
    in_dns: bool = Field(description="Its address is published under spec.dataCenters.hostname.")
    desired_replicas: int | None = Field(default=None, description="Its share of spec.replicas.")
    ready_replicas: int | None = Field(default=None, description="Ready replicas it published (absent while lost).")
    returning_for_seconds: int | None = Field(
        default=None, description="Back from a loss: seconds until it takes its share back (the failback window)."
    )


class DataCenterLoss(Model):
    """What losing one more data center would leave."""

    data_center: str
    ready_replicas_left: int
    answers_left: int = Field(description="Data centers left in DNS.")
    absorbable: bool | None = Field(
        default=None, description="The other data centers published room for its share. Absent where one did not."
    )
    spof: bool = Field(description="True when the site would then stand on one data center, or answer nowhere.")


class DependencyWorkload(Model):
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
    workloads: list[DependencyWorkload] = Field(default_factory=list, description="Workloads the Service selects.")


class EvacuationStatus(Model):
    """What became of one entry of spec.failover.evacuate."""

    zone: str
    until: Time
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
    last_transition_time: Time
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
    started: Time | None = Field(default=None, description="When the zone in progress got the target revision.")
    ready_since: Time | None = Field(default=None, description="When all its new pods turned ready (the bake).")
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
    data_centers: list[DataCenterStatus] = Field(
        default_factory=list, description="One entry per member of spec.dataCenters, as the store shows it."
    )
    data_center_loss: list[DataCenterLoss] = Field(
        default_factory=list, description="What-if: what losing each data center would leave."
    )
    conditions: list[Condition] = Field(
        default_factory=list,
        description="Ready, Redundant, Reconciled, FailoverActive, CapacityShort, RolloutHalted, and Evacuation, "
        "TrafficDistribution and DependenciesReady when asked for, in the standard shape.",
    )
