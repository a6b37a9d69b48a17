"""The data-center level of the verdict: findings with scope DataCenter, a what-if row per data
center, and the status entries that show the split. From the store as one data center sees it
(observed/datacenters.py), with this data center's own ready count taken from its cluster."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

from spofless.core.model.events import Event
from spofless.core.model.spec import DataCentersSpec, DependencySpec, ResilientSiteSpec
from spofless.core.model.status import DataCenterLoss, DataCenterStatus, Finding, ResilientSiteStatus
from spofless.core.observed.datacenters import WITNESS, DataCenterView, Share
from spofless.core.placement import datacenters as placement
from spofless.core.placement.datacenters import Split

# Above this DNS TTL, failover waits on clients' caches more than on the store: a warning.
TTL_WARNING_SECONDS = 30


@dataclass(frozen=True)
class Picture:
    """Every member's share as this data center sees it: published shares, this one's own ready count."""

    shares: dict[str, Share]
    live: frozenset[str]

    def ready(self, member: str) -> int:
        share = self.shares.get(member)
        return share.ready if share is not None and member in self.live else 0

    def in_dns(self, member: str) -> bool:
        share = self.shares.get(member)
        return share is not None and share.in_dns and member in self.live


def picture(
    view: DataCenterView, local_ready: int, local_in_dns: bool | None, local_desired: int | None = None
) -> Picture:
    """Published shares, with this data center's own ready count (and share, when it knows it) from now."""
    shares = {s.data_center: s for s in view.shares}
    mine = shares.get(view.local)
    shares[view.local] = Share(
        data_center=view.local,
        ready=local_ready,
        desired=local_desired if local_desired is not None else (mine.desired if mine else 0),
        addresses=mine.addresses if mine else (),
        in_dns=local_in_dns if local_in_dns is not None else bool(mine and mine.in_dns),
        room=mine.room if mine else None,
        dependencies=mine.dependencies if mine else {},
    )
    return Picture(shares, view.live_names() | ({view.local} if view.reachable else frozenset()))


def findings(
    spec: DataCentersSpec, view: DataCenterView, seen: Picture, depends_on: list[DependencySpec]
) -> list[Finding]:
    """Every single point of failure at the data-center level, then warnings."""
    out: list[Finding] = []
    multi = len(spec.members) > 1
    ready = {m: seen.ready(m) for m in spec.members}
    serving = sorted(m for m, n in ready.items() if n > 0)
    total = sum(ready.values())
    if total > 0 and len(serving) < spec.min_data_centers:
        message = (
            f"all {total} ready replicas run in data center {serving[0]}: losing it loses the site"
            if len(serving) == 1
            else f"ready replicas run in {len(serving)} data centers ({', '.join(serving)}), "
            f"fewer than minDataCenters {spec.min_data_centers}"
        )
        out.append(Finding(scope="DataCenter", name=serving[0] if len(serving) == 1 else "site", message=message))
    answering = sorted(m for m in spec.members if seen.in_dns(m))
    if multi and len(answering) == 1:
        out.append(Finding(scope="DataCenter", name=answering[0], message=f"only data center {answering[0]} is in "
                           f"DNS for {spec.hostname}: losing it leaves clients no address"))  # fmt: skip
    out += _store(view, spec.members)
    out += _dependencies(spec, seen, depends_on)
    live_operators = sorted(seen.live & set(spec.members))
    if multi and len(live_operators) == 1:
        out.append(Finding(scope="DataCenter", name=live_operators[0], message=f"spofless holds a lease in data "
                           f"center {live_operators[0]} only: no other data center would take over if it were lost"))  # fmt: skip
    if spec.ttl_seconds > TTL_WARNING_SECONDS:
        out.append(Finding(scope="DataCenter", name="ttlSeconds", severity="Warning", message=f"a DNS TTL of "
                           f"{spec.ttl_seconds} s lets clients keep a lost data center's address up to "
                           f"{spec.ttl_seconds + view.lease_seconds} s after it stops (TTL + lease)"))  # fmt: skip
    return out


def _store(view: DataCenterView, members: list[str]) -> list[Finding]:
    """The store survives losing any one site only if no site holds half of its members or more. A
    member whose location is none of the data centers is a third site's (a witness)."""
    if not view.store_members:
        return []
    where = Counter(place if place in members else WITNESS for place in view.store_members.values())
    size = sum(where.values())
    places = sorted(where)
    out = []
    for place in places:
        if size - where[place] > size // 2:
            continue  # the others keep a majority without it
        if len(places) == 2 and WITNESS not in places:
            message = (f"the store's {size} members are in two data centers ({', '.join(places)}) and no witness: "
                       f"losing {place} stops every failover (a member at a third site fixes it)")  # fmt: skip
        else:
            message = (f"the store's majority ({where[place]} of {size} members) is in {place}: losing it stops "
                       "every failover")  # fmt: skip
        out.append(Finding(scope="DataCenter", name=f"store:{place}", message=message))
    return out


def _dependencies(spec: DataCentersSpec, seen: Picture, depends_on: list[DependencySpec]) -> list[Finding]:
    if len(spec.members) < 2:
        return []
    out = []
    for dep in (d for d in depends_on if d.required):
        where = sorted(m for m in spec.members if m in seen.live and _endpoints(seen.shares.get(m), dep.service) > 0)
        if len(where) == 1:
            out.append(Finding(scope="DataCenter", name=dep.service, message=f"required dependency {dep.service} has "
                               f"ready endpoints in data center {where[0]} only"))  # fmt: skip
    return out


def _endpoints(share: Share | None, service: str) -> int:
    return share.dependencies.get(service, 0) if share is not None else 0


def loss(spec: DataCentersSpec, seen: Picture) -> list[DataCenterLoss]:
    """What-if: what losing each data center would leave, and whether the others have room for its share."""
    ready = {m: seen.ready(m) for m in spec.members}
    out = []
    for member in spec.members:
        if member not in seen.live:
            continue
        others = [m for m in spec.members if m != member and m in seen.live]
        left = sum(ready[m] for m in others)
        serving_left = len([m for m in others if ready[m] > 0])
        answers = len([m for m in others if seen.in_dns(m)])
        rooms = [seen.shares[m].room if m in seen.shares else None for m in others]
        moving = seen.shares[member].desired if member in seen.shares else 0
        absorbable = None if any(r is None for r in rooms) else sum(r or 0 for r in rooms) >= moving
        out.append(
            DataCenterLoss(
                data_center=member,
                ready_replicas_left=left,
                answers_left=answers,
                absorbable=absorbable,
                spof=left <= 1 or serving_left < spec.min_data_centers or answers == 0,
            )
        )
    return out


def entries(spec: DataCentersSpec, view: DataCenterView, seen: Picture, plan: Split) -> list[DataCenterStatus]:
    """One entry per member: live or lost, in DNS, its share and its ready replicas."""
    out = []
    for member in spec.members:
        share = seen.shares.get(member)
        out.append(
            DataCenterStatus(
                name=member,
                live=member in seen.live,
                in_dns=seen.in_dns(member),
                desired_replicas=plan.target.get(member, share.desired if share else None),
                ready_replicas=seen.ready(member) if member in seen.live else None,
                returning_for_seconds=round(plan.returning[member]) if member in plan.returning else None,
            )
        )
    return out


def condition(plan: Split) -> tuple[str, bool, str, str]:
    """DataCenterFailover: True while a member's share is carried by the others (or a hold says why not)."""
    if plan.hold is not None:
        return ("DataCenterFailover", False, plan.hold.value, plan.message)
    if plan.lost or plan.returning:
        parts = [f"{m} lost" for m in plan.lost] + [
            f"{m} back, its share in {s:.0f} s" for m, s in plan.returning.items()
        ]
        return ("DataCenterFailover", True, "DataCenterLost" if plan.lost else "FailingBack", "; ".join(parts))
    return ("DataCenterFailover", False, "AllLive", "every data center holds its lease and carries its share")


ConditionUpdate = tuple[str, bool, str, str]


def annotate(
    status: ResilientSiteStatus,
    spec: ResilientSiteSpec,
    view: DataCenterView | None,
    plan: Split | None,
    local_ready: int,
) -> list[ConditionUpdate]:
    """Adds the data-center level to the status the zones' decision made: the entries, the what-if,
    the findings (the phase counts them), and returns the conditions to set."""
    dcs = spec.data_centers
    if dcs is None:
        return []
    if view is None or plan is None:
        alone = Finding(scope="DataCenter", name="operator", severity="Warning", message="spec.dataCenters is set but "
                        "this spofless runs without --data-center: the site runs here as in one cluster")  # fmt: skip
        status.single_points_of_failure = [*status.single_points_of_failure, alone]
        return []
    seen = picture(view, local_ready, placement.in_dns(view, plan, local_ready), plan.replicas)
    status.data_centers = entries(dcs, view, seen, plan)
    status.data_center_loss = loss(dcs, seen)
    found = findings(dcs, view, seen, spec.depends_on)
    status.single_points_of_failure = sorted(
        [*status.single_points_of_failure, *found], key=lambda f: f.severity != "SPOF"
    )
    updates: list[ConditionUpdate] = [condition(plan)]
    first = next((f for f in found if f.severity == "SPOF"), None)
    if first is not None:
        status.spof = True
        updates.append(("Redundant", False, "SinglePointOfFailure", first.message))
        if status.phase in ("Redundant", "Degraded"):
            status.phase, status.message = "AtRisk", f"single point of failure: {first.message}"
    elif plan.lost and status.phase == "Redundant":
        status.phase = "Degraded"
        status.message = f"data center(s) {', '.join(plan.lost)} lost; {status.message}"
    return updates


def events(prev: ResilientSiteStatus, new: ResilientSiteStatus) -> list[Event]:
    """DataCenterLost when a member's lease lapses, DataCenterBack when it holds one again."""
    before = {d.name: d.live for d in prev.data_centers}
    out = []
    for entry in new.data_centers:
        was = before.get(entry.name)
        if was is True and not entry.live:
            out.append(
                Event("Warning", "DataCenterLost", f"data center {entry.name} lost: its lease in the store lapsed")
            )
        elif was is False and entry.live:
            out.append(Event("Normal", "DataCenterBack", f"data center {entry.name} holds its lease again"))
    return out
