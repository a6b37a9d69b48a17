"""What to do about each thing the judgement reports: a finding, a zone out of service, a spec the
operator cannot carry out, a halted rollout. One sentence or two a person can act on.

Two subjects: a ResilientSite (whose children spofless owns, so the fix is in its spec or in the
cluster under it) and any other workload the audit judges (whose manifests its owner changes).
"""

from __future__ import annotations

from typing import Literal

Subject = Literal["site", "workload"]

PHASES: dict[str, str] = {
    "Redundant": "no single point of failure: losing any one pod, node or zone leaves the site serving",
    "Degraded": "no single point of failure, but a zone is out of service or fewer replicas than asked are ready",
    "AtRisk": "a single point of failure (below), or no ready replica at all",
    "Invalid": "the spec cannot be carried out; nothing running was touched",
    "Pending": "the site is rolling out for the first time",
}

_PODS = "kubectl get pods -l spofless.dev/site={site} -o wide"

_FIXES: dict[tuple[str, Subject], str] = {
    ("Replica", "site"): "Find out why the site's pods are not ready (" + _PODS + ", then kubectl describe pod); "
    "spofless runs at least minZones replicas, one per zone, once they can start.",
    ("Replica", "workload"): "Run 2 or more replicas (one per zone where the cluster has several) and make sure "
    "they turn ready.",
    ("Zone", "site"): "Ready replicas sit in fewer zones than minZones. A lost, full or evacuated zone's share has "
    "moved (see the zones below); if the pods in the other zones do not turn ready, see " + _PODS + ".",
    ("Zone", "workload"): "Spread the pods over zones: a topologySpreadConstraint on topology.kubernetes.io/zone "
    "(whenUnsatisfiable: DoNotSchedule), or run the workload as a ResilientSite.",
    ("Node", "site"): "Give the zone more Ready, schedulable nodes: spofless spreads a zone's pods over its nodes, "
    "so they move apart as nodes come.",
    ("Node", "workload"): "Spread the pods over nodes: a topologySpreadConstraint on kubernetes.io/hostname or a "
    "pod anti-affinity, with 2 or more replicas.",
    ("Topology", "site"): "Add Ready nodes in another zone (labelled with spec.topologyKey), list more zones in "
    "spec.zones (or drop spec.zones to use every zone of the cluster), or lower spec.minZones knowingly.",
    ("Topology", "workload"): "Add nodes in other zones: in a single-zone cluster every workload stands on that "
    "zone, whatever its spread.",
    ("Service", "site"): "The Service's endpoints are the site's ready pods: while zones are out of service "
    "(below) they follow the pods; otherwise check the pods' readiness probes and that the Service's target "
    "ports match the containers' ports.",
    ("Service", "workload"): "Spread the workload behind the Service over zones, and check its pods' readiness: "
    "only ready pods become endpoints.",
    ("Dependency", "site"): "Make the dependency redundant: 2 or more ready replicas over zones and nodes behind its "
    "Service (a ResilientSite, or a StatefulSet with a topology spread). A missing Service: create it or fix "
    "spec.dependsOn; one the site serves without: set required: false.",
    ("Rollout", "site"): "Fix the template (RolloutHalted says why the new revision failed) and apply it; to retry "
    "the same template: kubectl annotate rsite {site} spofless.dev/resume-rollout=$(date +%s) --overwrite.",
    ("DisruptionBudget", "site"): "spofless makes the site's budget with its children; if it stays missing, see "
    "the Reconciled condition. Set spec.disruptionBudget.maxUnavailable to 1 or more, or node drains hang.",
    ("DisruptionBudget", "workload"): "Let the budget allow an eviction (maxUnavailable 1 or more, or minAvailable "
    "below the pods it covers), and delete a budget that covers no pod.",
    ("Readiness", "site"): "Add a readinessProbe to the containers named, so that ready means answers requests.",
    ("Capacity", "site"): "Add nodes or room (pods, CPU, memory) where the message says it is missing, or lower "
    "the template's requests; the scheduler's own message says what is short.",
    ("Permission", "workload"): "Grant list on the resource named (a ClusterRole for -A), or audit a namespace "
    "you may read.",
    ("Status", "site"): "Nothing to fix on the site: the field named could not be read (a hand edit, an older or "
    "newer spofless), so it was dropped and is written anew. If it keeps coming back, find what writes the status.",
    ("DataCenter", "site"): "Bring the data centers named back (their spofless must hold its lease in the store), "
    "apply the site in each member of spec.dataCenters, give the store a member at a third site (a witness), or "
    "lower ttlSeconds; the dataCenters section of the status says which data center holds what.",
}

_BELOW_MIN_ZONES = (
    "Set spec.replicas to minZones or more; with a HorizontalPodAutoscaler, set its minReplicas to at least minZones."
)


def for_finding(scope: str, name: str, subject: Subject, site: str = "SITE") -> str:
    """The fix for one finding of `scope` on `name`."""
    if scope == "Replica" and name == "spec.replicas":
        return _BELOW_MIN_ZONES
    fix = _FIXES.get((scope, subject)) or _FIXES.get((scope, "site" if subject == "workload" else "workload"))
    return (fix or "See the message: it names the single point.").replace("{site}", site)


_ZONES: dict[str, str] = {
    "ZoneLost": "No Ready node is left in zone {zone}: spofless has moved its share to the other zones, and moves "
    "it back once the zone's nodes have been Ready for failbackAfterSeconds. To do: bring the nodes back "
    "(kubectl get nodes -l {key}={zone}).",
    "ZoneSilent": "Every node of zone {zone} stopped renewing its Lease at once while the other zones renew theirs: "
    "spofless took the site's pods there out of its Service and moved their share to the other zones, before the "
    "nodes turn NotReady. It undoes both once the zone renews again (and its failback window has passed). To do: "
    "find what cut the zone off (kubectl get leases -n kube-node-lease).",
    "ZoneFull": "The site's pods in zone {zone} stay Pending as unschedulable: its share has moved to the other "
    "zones, and returns once they schedule. To do: add room in the zone (nodes, or lower requests).",
    "Evacuated": "Zone {zone} is evacuated on purpose (spec.failover.evacuate); its share returns when the entry "
    "ends or is removed.",
}


GENERIC_ZONE = "Zone {zone} is out of service ({cause})."


def for_zone(cause: str, zone: str, topology_key: str) -> str:
    """What happens, and what to do, while a zone is out of service for `cause`."""
    text = _ZONES.get(cause, GENERIC_ZONE)
    return text.replace("{zone}", zone).replace("{key}", topology_key).replace("{cause}", cause)


_RECONCILED: dict[str, str] = {
    "InvalidSpec": "Fix the spec as the message says (kubectl explain resilientsite.spec).",
    "UnknownZone": "A zone of spec.zones has no node: fix spec.zones, or label nodes of that zone with "
    "spec.topologyKey.",
    "NoZones": "No node carries spec.topologyKey: label the nodes with their zone (topology.kubernetes.io/zone), "
    "or set spec.topologyKey to the label they carry.",
    "ApplyRefused": "The API server refused an object made from the spec (its message above): change the template "
    "or service so that a Deployment or Service with it is valid.",
    "ApplyFailed": "The API server could not be reached or failed a write; spofless tries again by itself. If it "
    "lasts, check the API server and the operator's log.",
    "InternalError": "spofless itself failed deciding this site (a bug): its log has the traceback "
    "(kubectl -n spofless-system logs deploy/spofless). It retries with backoff and changes nothing meanwhile.",
}
GENERIC_RECONCILED = "See the condition's message; spofless changes nothing that runs meanwhile."


def for_reconciled(reason: str) -> str:
    """The fix when the Reconciled condition is False for `reason`."""
    return _RECONCILED.get(reason, GENERIC_RECONCILED)


def for_halt(reason: str, site: str) -> str:
    """The fix for a rollout halted for `reason`: the same whatever halted it, the evidence differs."""
    where = {
        "PodsFailing": "the new pods crash or cannot pull their image",
        "ProgressDeadlineExceeded": "the zone's new pods were not ready within progressDeadlineSeconds",
        "UnreadyDuringBake": "a new pod turned unready during the bake",
        "TemplateRefused": "the API server refused the template",
        "RolledBack": "the failed zone went back to the last revision every zone ran",
    }.get(reason, "the new revision failed")
    return f"Here {where}: see kubectl describe pods -l spofless.dev/site={site}. " + _FIXES[
        ("Rollout", "site")
    ].replace("{site}", site)
