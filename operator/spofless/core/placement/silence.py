"""Which zone has gone silent: every node Lease in it stopped renewing, while the others renew.

A kubelet renews its node's Lease every quarter of the Lease's duration (10 s by default). The node
controller waits its grace period (50 s by default) before it marks a silent node NotReady, node by
node, and only then do its pods leave the Services' endpoints: for that long a third of the
requests go to pods that will never answer. A zone is the unit that dies, and a whole zone whose
every Lease stopped at once, while every other zone's renew, is much stronger evidence than one
node's silence. So a zone is judged silent when all of these hold:

- every node Lease in it has gone unrenewed for longer than its renew interval plus a margin
  (default 2 s: 12 s with the kubelet's defaults);
- every other zone still renews: each has a Lease renewed within its interval plus the margin;
- every other zone renewed after the silent one missed its renewal (its freshest renewal plus an
  interval): zones that failed together stop renewing up to an interval apart, and the first to
  look quiet must not be taken for the only one;
- exactly one zone is silent: two or more silent together look like the operator's own trouble,
  or the control plane's (the node controller itself stops evicting when every zone is down);
- the Leases have been watched for a full interval plus the margin since the operator started: a
  silence it has not seen begin is no evidence. After its watch broke and was listed again, for
  AFTER_BREAK_INTERVALS intervals plus the margin: the API server was most likely away, and the
  kubelets' renewals come back on their own retries, a missed turn or two apart (seen on the local
  cluster: after 15 s without kube-apiserver, one zone renewed once and then not for 8 s while the
  others did, and a single interval's watch took it for silent);
- the zone is not held off: a kubelet that rewrote a pod's Ready in a zone judged silent proved it
  alive (the shell holds such a zone off for HOLD_OFF_SECONDS).

Once judged, a zone stays silent while every Lease in it stays quiet and it is not held off,
whatever the other zones do meanwhile: a second zone failing, or a watch that lags, says nothing of
the first one's return.

A zone of a single node is judged like any other: the other guards hold for it too, and kind's
zones have one worker each. Silence is timed on the operator's own clock (how long since it saw a
Lease's renewTime change), as the node controller does, so no two clocks are compared.

Pure: what the shell observed of the Leases goes in; the verdict comes out. The shell confirms a
verdict with a fresh read of the Leases (not its watch) before any pod is touched.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass

MARGIN_SECONDS = 2.0  # beyond a Lease's renew interval before its silence counts
AFTER_BREAK_INTERVALS = 3  # intervals of watching before a verdict, after the watch broke
HOLD_OFF_SECONDS = 600.0  # a zone proved alive by a kubelet is not judged silent again this long


@dataclass(frozen=True)
class LeaseSeen:
    """One node's Lease as the operator has watched it."""

    node: str
    zone: str
    silent_for: float  # seconds since the operator last saw its renewTime change
    interval: float  # its renew interval: a quarter of leaseDurationSeconds

    def renewing(self, margin: float) -> bool:
        return self.silent_for <= self.interval + margin


@dataclass(frozen=True)
class Silence:
    zone: str | None  # the one zone judged silent; None when no zone is (or a guard holds)
    silent_for: float = 0.0  # seconds since its freshest Lease was renewed
    looks_silent: tuple[str, ...] = ()  # every zone whose Leases all stopped, judged or not
    held_by: str = ""  # the guard that kept a zone that looks silent from being judged so


def judge(
    leases: Sequence[LeaseSeen],
    watched_for: float,
    held_off: Collection[str] = (),
    margin: float = MARGIN_SECONDS,
    judged: str | None = None,
    after_break: bool = False,
) -> Silence:
    """`judged` is the zone judged silent at the last look, if any; `after_break`: the current watch
    began with a list after the last one broke (not at the operator's start)."""
    by_zone: dict[str, list[LeaseSeen]] = {}
    for lease in leases:
        if lease.zone:
            by_zone.setdefault(lease.zone, []).append(lease)
    quiet = sorted(z for z, zone_leases in by_zone.items() if not any(x.renewing(margin) for x in zone_leases))
    if not quiet:
        return Silence(None)
    looks = tuple(quiet)
    if judged in quiet and judged not in held_off:
        return Silence(judged, silent_for=_freshest(by_zone[judged]), looks_silent=looks)
    intervals = AFTER_BREAK_INTERVALS if after_break else 1
    longest = max((x.interval for x in leases), default=0.0) * intervals + margin
    if watched_for < longest:
        return Silence(None, looks_silent=looks, held_by=f"Leases watched for {watched_for:.0f} s only")
    if len(quiet) > 1:
        return Silence(None, looks_silent=looks, held_by="more than one zone is silent")
    zone = quiet[0]
    if len(by_zone) < 2:
        return Silence(None, looks_silent=looks, held_by="no other zone renews to compare with")
    if zone in held_off:
        return Silence(None, looks_silent=looks, held_by=f"a kubelet in zone {zone} proved it alive")
    silent_for = _freshest(by_zone[zone])
    # How long ago the zone missed its renewal: every other zone must have renewed since.
    missed = silent_for - max(x.interval for x in by_zone[zone])
    together = sorted(z for z, zone_leases in by_zone.items() if z != zone and _freshest(zone_leases) >= missed)
    if together:
        return Silence(None, looks_silent=looks, held_by=f"zone(s) {', '.join(together)} not renewed since zone {zone} "
                       "missed its renewal: they may have failed together")  # fmt: skip
    return Silence(zone, silent_for=silent_for, looks_silent=looks)


def _freshest(leases: Sequence[LeaseSeen]) -> float:
    """Seconds since the zone's most recent renewal."""
    return min(x.silent_for for x in leases)
