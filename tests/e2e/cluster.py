"""What the e2e tests use to talk to the cluster in KUBECONFIG: kubectl, and waits with timeouts."""

from __future__ import annotations

import json
import os
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, ClassVar, TypeVar

import yaml

T = TypeVar("T")
KUBECTL = os.environ.get("KUBECTL", "kubectl")
POLL = 0.5  # seconds between two looks at the cluster
# A JSON-lines file that gets every site the suite reads, once per distinct shape of its status: the
# real statuses tests/gitops/statuses.yaml is captured from (python -m tests.gitops.capture).
STATUS_LOG = os.environ.get("SPOFLESS_E2E_STATUS_LOG", "")
_seen: set[str] = set()


class KubectlError(Exception):
    def __init__(self, args: tuple[str, ...], stderr: str) -> None:
        super().__init__(f"kubectl {' '.join(args)}: {stderr.strip()}")
        self.stderr = stderr


def kubectl(*args: str, stdin: str | None = None, check: bool = True) -> str:
    done = subprocess.run([KUBECTL, *args], input=stdin, capture_output=True, text=True, timeout=60)
    if check and done.returncode != 0:
        raise KubectlError(args, done.stderr)
    return done.stdout


def apply(obj: dict[str, Any] | str, *extra: str) -> str:
    text = obj if isinstance(obj, str) else yaml.safe_dump(obj)
    return kubectl("apply", "-f", "-", *extra, stdin=text)


def get(kind: str, name: str = "", namespace: str | None = None, selector: str | None = None) -> Any:
    """One object (None if absent) or, without a name, the list of items."""
    args = ["get", kind, *([name] if name else []), "-o", "json"]
    if namespace:
        args += ["-n", namespace]
    if selector:
        args += ["-l", selector]
    try:
        out = json.loads(kubectl(*args))
    except KubectlError as err:
        if "NotFound" in err.stderr:
            return None
        raise
    if STATUS_LOG and kind.startswith(("resilientsite", "rsite")):
        for obj in [out] if name else out["items"]:
            _record(obj)
    return out if name else out["items"]


def _record(site: dict[str, Any]) -> None:
    """Appends the site to STATUS_LOG if its status has a shape not seen yet in this run."""
    status = site.get("status") or {}
    shape = json.dumps(
        [
            status.get("phase"),
            status.get("observedGeneration") == site["metadata"].get("generation"),
            sorted((c["type"], c["status"], c["reason"]) for c in status.get("conditions", [])),
            (status.get("rollout") or {}).get("phase"),
        ]
    )
    if shape in _seen:
        return
    _seen.add(shape)
    keep = {k: site["metadata"][k] for k in ("name", "namespace", "generation") if k in site["metadata"]}
    record = {"test": os.environ.get("PYTEST_CURRENT_TEST", ""), "object": {**site, "metadata": keep}}
    with open(STATUS_LOG, "a") as log:
        log.write(json.dumps(record) + "\n")


def wait_for(what: str, probe: Callable[[], T | None], timeout: float = 60) -> T:
    """Polls `probe` until it returns something truthy; fails with `what` and the last value seen."""
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        try:
            last = probe()
        except (KubectlError, KeyError, IndexError, StopIteration, TypeError) as err:
            last = err
        if last and not isinstance(last, Exception):
            return last  # type: ignore[no-any-return]
        time.sleep(POLL)
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}; last seen: {last!r}")


def stays(what: str, probe: Callable[[], bool], seconds: float) -> None:
    """Asserts `probe` holds at every look for `seconds` (a check that nothing happens)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        assert probe(), f"{what} stopped holding"
        time.sleep(POLL)


def site(name: str, namespace: str) -> Any:
    return get("resilientsite", name, namespace)


def status(name: str, namespace: str) -> dict[str, Any]:
    obj = site(name, namespace) or {}
    return obj.get("status") or {}


def condition(name: str, namespace: str, kind: str) -> dict[str, Any]:
    return next((c for c in status(name, namespace).get("conditions", []) if c["type"] == kind), {})


def event_reasons(namespace: str, name: str = "") -> list[str]:
    """The reasons of the events posted in the namespace (on the object `name`, if given), oldest first."""
    items = get("events", namespace=namespace)
    items.sort(key=lambda e: e.get("lastTimestamp") or e.get("eventTime") or "")
    return [e["reason"] for e in items if not name or e["involvedObject"]["name"] == name]


def wait_events(namespace: str, *reasons: str, name: str = "", timeout: float = 60) -> list[str]:
    """Waits until each reason has been posted. The operator posts events after the status patch that
    a scenario waits for, from a queue: read once, they race it."""

    def posted() -> list[str] | None:
        seen = event_reasons(namespace, name)
        return seen if all(r in seen for r in reasons) else None

    return wait_for(f"events {', '.join(reasons)} in {namespace}", posted, timeout)


def service_account_kubeconfig(account: str, path: Path) -> Path:
    """A kubeconfig for the current cluster that authenticates as `namespace/name` with a real
    token, so the operator runs with exactly the permissions its role grants."""
    namespace, name = account.split("/")
    token = kubectl("create", "token", name, "-n", namespace, "--duration=4h").strip()
    config = json.loads(kubectl("config", "view", "--raw", "--minify", "-o", "json"))
    config["users"] = [{"name": account, "user": {"token": token}}]
    config["contexts"][0]["context"]["user"] = account
    path.write_text(json.dumps(config))
    return path


def wait_established(crd: str, timeout: float = 60) -> None:
    """Waits for a CRD to be Established. `kubectl wait` fails at once on a CRD applied a moment
    ago, whose status has no conditions yet."""

    def established() -> bool:
        conditions = ((get("crd", crd) or {}).get("status") or {}).get("conditions") or []
        return any(c["type"] == "Established" and c["status"] == "True" for c in conditions)

    wait_for(f"CRD {crd} Established", established, timeout=timeout)


class ClusterAt:
    """kubectl against one cluster of several, by its own kubeconfig (the data-center scenarios):
    the class using it gives `name` and `kubeconfig`."""

    name: str
    kubeconfig: str
    KUBECTL_TIMEOUT: ClassVar[float] = 60

    def kubectl(self, *args: str, stdin: str | None = None, check: bool = True) -> str:
        env = {**os.environ, "KUBECONFIG": self.kubeconfig}
        done = subprocess.run(
            [KUBECTL, *args], input=stdin, capture_output=True, text=True, timeout=self.KUBECTL_TIMEOUT, env=env
        )
        if check and done.returncode != 0:
            raise AssertionError(f"{self.name}: kubectl {' '.join(args)}: {done.stderr.strip()}")
        return done.stdout

    def apply(self, obj: dict[str, Any]) -> None:
        self.kubectl("apply", "-f", "-", stdin=yaml.safe_dump(obj))

    def get(self, kind: str, name: str = "", namespace: str = "", selector: str = "", *extra: str) -> Any:
        """The object, or the list of items."""
        args = ["get", kind, *([name] if name else []), "-o", "json", *extra]
        args += ["-n", namespace] if namespace else []
        args += ["-l", selector] if selector else []
        out = json.loads(self.kubectl(*args))
        return out if name else out["items"]

    def status(self, site: str, namespace: str) -> dict[str, Any]:
        return dict((self.get("resilientsite", site, namespace) or {}).get("status") or {})

    def ready(self, site: str, namespace: str) -> int:
        """Ready pods of the site that are not going away."""
        pods = self.get("pods", namespace=namespace, selector=f"spofless.dev/site={site}")
        return sum(
            1 for p in pods
            if not p["metadata"].get("deletionTimestamp")
            and any(c["type"] == "Ready" and c["status"] == "True" for c in p.get("status", {}).get("conditions", []))
        )  # fmt: skip
