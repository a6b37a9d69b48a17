"""The operator's role grants nothing it does not use. Runs last (file order): the kube-apiserver's
audit log of the operator's ServiceAccount, written while the suite ran as that account, must show
every verb the installed role grants in use."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
import yaml

from .conftest import KIND, ROOT

ACCOUNT = os.environ.get("SPOFLESS_E2E_SERVICE_ACCOUNT", "")
AUDIT_LOG = os.environ.get("SPOFLESS_AUDIT_LOG", "")
# Verbs that only scenarios needing KWOK exercise. On kind those scenarios skip, saying why, so these
# verbs go unused there; the KWOK suite still requires them.
KWOK_ONLY_VERBS = {
    ("apps", "deployments/scale", "patch"): "moves the replicas of a zone whose Deployment is kept "
    "(a halted rollout, an older version's template): test_rollout.py's KWOK scenarios",
    ("", "pods/eviction", "create"): "evicts a pod left out of its Service after its zone returned: a real kubelet "
    "writes Ready back, so only kwok (which does not) leaves one: test_silent_zone.py's KWOK scenario",
}


def granted() -> set[tuple[str, str, str]]:
    """(group, resource, verb) of every rule bound to the operator in manifests/install.yaml."""
    docs = [d for d in yaml.safe_load_all((ROOT / "manifests" / "install.yaml").read_text()) if d]
    roles = [d for d in docs if d["kind"] in ("ClusterRole", "Role")]
    assert roles, "install.yaml has no role"
    return {
        (group, resource, verb)
        for role in roles
        for rule in role["rules"]
        for group in rule.get("apiGroups", [])
        for resource in rule.get("resources", [])
        for verb in rule.get("verbs", [])
    }


def used(log: Path, user: str) -> set[tuple[str, str, str]]:
    out = set()
    for line in log.read_text().splitlines():
        event = json.loads(line)
        if event.get("user", {}).get("username") != user or "objectRef" not in event:
            continue
        ref = event["objectRef"]
        resource = ref.get("resource", "") + (f"/{ref['subresource']}" if ref.get("subresource") else "")
        verb = event["verb"]
        if verb == "patch" and event.get("responseStatus", {}).get("code") == 201:
            verb = "create"  # a server-side apply that created the object needs (and uses) create
        out.add((ref.get("apiGroup", ""), resource, verb))
    return out


@pytest.mark.skipif(
    not (ACCOUNT and AUDIT_LOG),
    reason="needs SPOFLESS_E2E_SERVICE_ACCOUNT and SPOFLESS_AUDIT_LOG (make test sets both)",
)
def test_every_granted_verb_was_used_by_the_operator() -> None:
    namespace, name = ACCOUNT.split("/")
    seen = used(Path(AUDIT_LOG), f"system:serviceaccount:{namespace}:{name}")
    unused = sorted(granted() - seen)
    if KIND:
        for verb in [v for v in unused if v in KWOK_ONLY_VERBS]:
            print(f"unused on kind, exercised by the KWOK suite: {verb}: {KWOK_ONLY_VERBS[verb]}")
            unused.remove(verb)
    assert not unused, f"the role grants verbs the operator never used in the whole suite: {unused}"
