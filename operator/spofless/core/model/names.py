"""Names and labels of the objects a site owns."""

from __future__ import annotations

import hashlib
import re

MANAGED_BY = "spofless"
LABEL_MANAGED_BY = "app.kubernetes.io/managed-by"
LABEL_SITE = "spofless.dev/site"
LABEL_ZONE = "spofless.dev/zone"
# The reason of the Ready=False spofless sets on a silent zone's pods (a kubelet writes its own back).
REASON_ZONE_SILENT = "SpoflessZoneSilent"
FIELD_MANAGER = "spofless"
ANNOTATION_PREFIX = "spofless.dev/"
ANNOTATION_REVISION = "spofless.dev/revision"  # on a zone's pod template: the site template's revision
ANNOTATION_TEMPLATE = "spofless.dev/template"  # on a zone's Deployment: the site template it runs (JSON)
ANNOTATION_RESUME = "spofless.dev/resume-rollout"  # on a site: a new value resumes a halted rollout
ANNOTATION_ROLLED_BACK = "spofless.dev/rolled-back-from"  # on a zone's Deployment: the revision a halt undid
MAX_NAME = 63  # a DNS-1123 label: Services and label values are held to it

_NOT_DNS = re.compile(r"[^a-z0-9-]+")


def _digest(text: str, length: int = 8) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:length]


def dns_label(text: str) -> str:
    """Lower-cased, with runs of other characters as '-', trimmed of '-' at both ends."""
    return _NOT_DNS.sub("-", text.lower()).strip("-")


def child_name(site: str, zone: str) -> str:
    """`<site>-<zone>`, DNS-1123-safe; shortened and suffixed with a hash when too long
    or when cleaning the zone's name could make two zones collide."""
    clean = dns_label(zone)
    plain = f"{site}-{clean}"
    if clean == zone and len(plain) <= MAX_NAME:
        return plain
    suffix = _digest(f"{site}/{zone}")
    head = plain[: MAX_NAME - len(suffix) - 1].rstrip("-")
    return f"{head}-{suffix}"


def site_labels(site: str) -> dict[str, str]:
    """Labels on everything of one site; a selector on them finds it all."""
    return {LABEL_MANAGED_BY: MANAGED_BY, LABEL_SITE: site}


def zone_labels(site: str, zone: str) -> dict[str, str]:
    """Labels on a zone's Deployment, its pods and its budget."""
    return site_labels(site) | {LABEL_ZONE: zone}


def zone_selector(site: str, zone: str) -> dict[str, str]:
    """The (immutable) selector of a zone's Deployment and budget."""
    return {LABEL_SITE: site, LABEL_ZONE: zone}
