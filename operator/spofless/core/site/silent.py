"""What a site does about a zone the cluster judged silent: its ready pods there are taken out of its
Service (Ready=False, spofless' reason), and, once the zone has renewed its Leases again for a
while, the pods still carrying that mark are evicted (a live kubelet would have written Ready back).

Traffic comes out only while the zones left hold at least minZones zones' worth of ready replicas
(minZones times the even share): a zone that might still be serving is better than too few pods.
The moves to the other zones do not wait for that: the zone is out of service (cause ZoneSilent)
as soon as it is judged silent, and its Deployment keeps its replicas, as a lost zone's does.
"""

from __future__ import annotations

from collections.abc import Sequence

from spofless.core.observed.records import Pod, ZoneSilence

LEFTOVER_SECONDS = 30.0  # a zone renewing again this long: a pod still marked by spofless is a leftover


def enough_elsewhere(ready_outside: int, total: int, zones: int, min_zones: int) -> bool:
    """The zones left hold minZones zones' worth of ready replicas (the even share each)."""
    share = total // zones if zones else 0
    return ready_outside > 0 and ready_outside >= min(total, min_zones * share)


def to_unready(pods: Sequence[Pod], zone: str) -> list[str]:
    """The site's pods in the silent zone that still say Ready: their endpoints are to go."""
    return sorted(p.name for p in pods if p.zone == zone and p.ready and not p.terminating)


def leftovers(pods: Sequence[Pod], silence: ZoneSilence | None) -> list[str]:
    """Pods spofless took out of their Service in a zone that has been renewing again for a while: its
    kubelet did not write Ready back (the pod is stuck), so the Eviction API replaces it, within the
    budget. Pods of a zone still silent, or back only a moment ago, are left alone."""
    if silence is None:
        return []
    settled = {z for z, seconds in silence.recovered_for.items() if seconds >= LEFTOVER_SECONDS}
    return sorted(p.name for p in pods if p.unready_by_us and not p.terminating and p.zone in settled)
