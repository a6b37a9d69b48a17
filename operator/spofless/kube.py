"""The few Kubernetes API calls the shells make: server-side apply, delete, status patch, scale, the
leader Lease, events; and the one place where API errors are sorted into what they mean for a pass.

Plain dicts in and out over one generic `call`, so one path serves every kind in `core.model.kinds`.
Two transports implement `call`: `Kube`, on kubernetes_asyncio's ApiClient (the audit and the
benchmarks: its config loader knows every kubeconfig, exec plugins included), and the operator's
own (operator/client.py: plain aiohttp; the library's models alone cost the operator ~38 MB). So
nothing here imports kubernetes_asyncio at module level, and API errors are told by their `status`,
whichever transport raised them.
"""

from __future__ import annotations

import json
import os
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import Enum
from typing import Any, Protocol

import aiohttp

from spofless import __version__
from spofless.core.model import kinds, names, times
from spofless.core.model.events import Event

REQUEST_TIMEOUT = 30  # seconds; a hung call must end so the pass (and liveness) can move on
# Seconds to open a connection (TCP and TLS): a SYN that goes nowhere (a Service address before
# kube-proxy has its rules again, on a node that just restarted) fails here and is retried, rather
# than holding the call, and the leader election with it, for REQUEST_TIMEOUT. Two SYN retransmits fit.
CONNECT_TIMEOUT = 5.0


def collection(kind: kinds.Kind, namespace: str | None = None) -> str:
    """The API path of a kind's objects: in one namespace, or (None) in the whole cluster."""
    prefix = f"/apis/{kind.group}/{kind.version}" if kind.group else f"/api/{kind.version}"
    scope = f"/namespaces/{namespace}" if namespace is not None else ""
    return f"{prefix}{scope}/{kind.plural}"


def path(kind: kinds.Kind, namespace: str, name: str, subresource: str = "") -> str:
    """The API path of one namespaced object (or its subresource)."""
    tail = f"/{subresource}" if subresource else ""
    return f"{collection(kind, namespace)}/{name}{tail}"


class ApiError(Exception):
    """An API call answered with an error: the operator's transport raises it. It has the fields of
    kubernetes_asyncio's ApiException, so errors of either transport are sorted alike."""

    def __init__(self, status: int, reason: str, body: str = "", headers: Mapping[str, str] | None = None) -> None:
        super().__init__(f"({status}) {reason}")
        self.status, self.reason, self.body, self.headers = status, reason, body, dict(headers or {})


def _status(err: BaseException) -> int | None:
    """The HTTP status of an API error from either transport; None for anything else."""
    status = getattr(err, "status", None)
    return status if isinstance(status, int) and hasattr(err, "reason") else None


class Refused(Exception):
    """The API server refused an object as invalid: a spec problem, not an outage."""

    def __init__(self, kind: str, name: str, message: str) -> None:
        super().__init__(f"{kind} {name}: {message}")
        self.kind, self.name, self.message = kind, name, message


class Failure(Enum):
    """What a failed API call means for the pass that made it, and how it is retried."""

    PERMANENT = "permanent"  # a refusal (invalid, forbidden): the status says it; no retry until a change
    THROTTLED = "throttled"  # 429: back off, at least as long as the server asked (Retry-After)
    TRANSIENT = "transient"  # unreachable, overloaded, failing, a conflict: back off with jitter, retry
    GONE = "gone"  # the site or its namespace is going away: nothing to retry


def api_message(err: Any) -> str:
    """The human part of an API error (the Status object's message)."""
    try:
        return str(json.loads(err.body or "{}").get("message") or err.reason)
    except (TypeError, ValueError):
        return str(err.reason)


def describe(err: BaseException) -> str:
    """One line for a log or a status: the API's own message where there is one."""
    if _status(err) is not None:
        return f"{_status(err)} {getattr(err, 'reason', '')}: {api_message(err)}"
    return str(err) or type(err).__name__


def refusal(err: Any) -> bool:
    """True when the API server refused the object itself. Besides 400 and 422, server-side apply
    answers 500 "failed to create typed patch object" for a field of the wrong type: retrying that
    would fail forever, so it is a refusal, not an outage."""
    return err.status in (400, 422) or (err.status == 500 and "failed to create typed patch object" in api_message(err))


def failure(err: BaseException) -> Failure | None:
    """Sorts an error from an API call; None for anything that is not one (a bug: let it raise)."""
    if isinstance(err, Refused):
        return Failure.PERMANENT
    status = _status(err)
    if status is not None:
        if status == 404 or (status == 403 and "NamespaceTerminating" in str(getattr(err, "body", ""))):
            return Failure.GONE
        if status == 429:
            return Failure.THROTTLED
        if refusal(err) or status == 403:
            return Failure.PERMANENT  # RBAC: a person must grant it; the status and a Warning say so
        return Failure.TRANSIENT  # 401 (a token being rotated), 409, 5xx
    if isinstance(err, TimeoutError | aiohttp.ClientError | OSError):
        return Failure.TRANSIENT
    return None


def retry_after(err: BaseException) -> float | None:
    """Seconds the server asked to wait (Retry-After on a 429 or 503), if it said."""
    headers = getattr(err, "headers", None) or {}
    value = headers.get("Retry-After") if hasattr(headers, "get") else None
    try:
        return float(value) if value is not None else None
    except ValueError:
        return None


class Api(Protocol):
    """The calls the operator makes; the real client and the tests' stand-in both implement it."""

    async def apply(self, manifest: dict[str, Any], dry_run: bool = False) -> dict[str, Any]: ...

    async def delete(self, kind: str, namespace: str, name: str) -> None: ...

    async def patch_status(self, namespace: str, name: str, status: dict[str, Any]) -> dict[str, Any]: ...

    async def scale(self, namespace: str, name: str, replicas: int) -> str: ...

    async def post_event(self, involved: Mapping[str, Any], event: Event, component: str, instance: str) -> None: ...

    async def mark_unready(self, namespace: str, pod: str, reason: str, message: str) -> str: ...

    async def evict(self, namespace: str, pod: str) -> None: ...

    async def get_lease(self, namespace: str, name: str) -> dict[str, Any] | None: ...

    async def put_lease(self, namespace: str, lease: dict[str, Any]) -> dict[str, Any]: ...

    async def close(self) -> None: ...


class Calls:
    """Every call the shells make, over one generic `call` a transport provides."""

    field_manager: str = names.FIELD_MANAGER

    async def call(
        self,
        method: str,
        url: str,
        body: Any = None,
        query: list[tuple[str, str]] | None = None,
        content_type: str = "application/json",
    ) -> Any:
        raise NotImplementedError

    async def apply(self, manifest: dict[str, Any], dry_run: bool = False) -> dict[str, Any]:
        """Server-side apply with the operator's one field manager; returns the object as stored."""
        meta = manifest["metadata"]
        query = [("fieldManager", self.field_manager), ("force", "true")]
        if dry_run:
            query.append(("dryRun", "All"))
        url = path(kinds.BY_KIND[manifest["kind"]], meta["namespace"], meta["name"])
        try:
            result: dict[str, Any] = await self.call("PATCH", url, manifest, query, "application/apply-patch+yaml")
        except Exception as err:
            if _status(err) is not None and refusal(err):
                raise Refused(manifest["kind"], meta["name"], api_message(err)) from err
            raise
        return result

    async def delete(self, kind: str, namespace: str, name: str) -> None:
        """Deletes one child; already gone is fine. Foreground, so its pods go before it does."""
        body = {"kind": "DeleteOptions", "apiVersion": "v1", "propagationPolicy": "Foreground"}
        try:
            await self.call("DELETE", path(kinds.BY_KIND[kind], namespace, name), body)
        except Exception as err:
            if _status(err) != 404:
                raise

    async def patch_status(self, namespace: str, name: str, status: dict[str, Any]) -> dict[str, Any]:
        """Merge-patches the status subresource; returns the site as stored."""
        url = path(kinds.SITE, namespace, name, "status")
        stored: dict[str, Any] = await self.call("PATCH", url, {"status": status}, None, "application/merge-patch+json")
        return stored

    async def scale(self, namespace: str, name: str, replicas: int) -> str:
        """Sets a Deployment's replicas through its scale subresource (one small write, template
        untouched, no dry run needed); returns the Deployment's resourceVersion after it."""
        url = path(kinds.DEPLOYMENT, namespace, name, "scale")
        query = [("fieldManager", self.field_manager)]
        stored = await self.call("PATCH", url, {"spec": {"replicas": replicas}}, query, "application/merge-patch+json")
        return str((stored.get("metadata") or {}).get("resourceVersion") or "")

    async def post_event(self, involved: Mapping[str, Any], event: Event, component: str, instance: str) -> None:
        """Posts a core/v1 Event on an object (a site): what `kubectl describe` shows."""
        meta = involved.get("metadata") or {}
        now = times.text(datetime.now(UTC))
        body = {
            "apiVersion": "v1",
            "kind": "Event",
            "metadata": {"generateName": f"{meta.get('name', 'site')}.", "namespace": meta.get("namespace")},
            "involvedObject": {
                "apiVersion": involved.get("apiVersion", kinds.SITE.api_version),
                "kind": involved.get("kind", kinds.SITE.kind),
                "name": meta.get("name"),
                "namespace": meta.get("namespace"),
                "uid": meta.get("uid"),
            },
            "type": event.type,
            "reason": event.reason,
            "message": event.message[:1024],
            "source": {"component": component},
            "reportingComponent": component,
            "reportingInstance": instance[:128],
            "firstTimestamp": now,
            "lastTimestamp": now,
            "count": 1,
        }
        await self.call("POST", f"/api/v1/namespaces/{meta.get('namespace')}/events", body)

    async def mark_unready(self, namespace: str, pod: str, reason: str, message: str) -> str:
        """Sets a pod's Ready condition False through pods/status, as the node controller does for a
        dead node's pods: the EndpointSlice controller then takes it out of its Services. A live
        kubelet writes Ready back from its own probes, so a wrong mark heals by itself."""
        now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        condition = {
            "type": "Ready",
            "status": "False",
            "reason": reason,
            "message": message,
            "lastTransitionTime": now,
        }
        url = f"/api/v1/namespaces/{namespace}/pods/{pod}/status"
        stored = await self.call("PATCH", url, {"status": {"conditions": [condition]}}, None,
                                 "application/strategic-merge-patch+json")  # fmt: skip
        return str((stored.get("metadata") or {}).get("resourceVersion") or "")

    async def evict(self, namespace: str, pod: str) -> None:
        """Evicts a pod through the Eviction API, which respects its PodDisruptionBudget (a 429 when
        the budget allows no disruption now: the caller retries later)."""
        body = {"apiVersion": "policy/v1", "kind": "Eviction", "metadata": {"name": pod, "namespace": namespace}}
        try:
            await self.call("POST", f"/api/v1/namespaces/{namespace}/pods/{pod}/eviction", body)
        except Exception as err:
            if _status(err) != 404:
                raise

    async def get_lease(self, namespace: str, name: str) -> dict[str, Any] | None:
        try:
            lease: dict[str, Any] = await self.call("GET", path(kinds.LEASE, namespace, name))
        except Exception as err:
            if _status(err) == 404:
                return None
            raise
        return lease

    async def put_lease(self, namespace: str, lease: dict[str, Any]) -> dict[str, Any]:
        """Creates the lease (no resourceVersion) or replaces it (the resourceVersion it was read at:
        a 409 means another replica wrote it first)."""
        name = lease["metadata"]["name"]
        if lease["metadata"].get("resourceVersion"):
            stored: dict[str, Any] = await self.call("PUT", path(kinds.LEASE, namespace, name), lease)
        else:
            url = path(kinds.LEASE, namespace, name).rsplit("/", 1)[0]
            stored = await self.call("POST", url, lease)
        return stored

    async def list_pages(
        self, url: str, label_selector: str | None = None, limit: int = 500
    ) -> AsyncIterator[list[dict[str, Any]]]:
        """The items of a list, a page at a time (a big cluster never sits in memory whole)."""
        token = ""
        while True:
            query = [("limit", str(limit))]
            if label_selector:
                query.append(("labelSelector", label_selector))
            if token:
                query.append(("continue", token))
            page = await self.call("GET", url, query=query)
            yield list(page.get("items") or [])
            token = (page.get("metadata") or {}).get("continue") or ""
            if not token:
                return


@dataclass
class Kube(Calls):
    """The transport of the audit and the benchmarks: kubernetes_asyncio's ApiClient."""

    client: Any  # kubernetes_asyncio.client.ApiClient

    @classmethod
    async def connect(cls, identity: str = "", config_file: str | None = None, context: str | None = None) -> Kube:
        """In-cluster credentials when running in a pod, else the kubeconfig (`config_file`, or KUBECONFIG
        or ~/.kube/config) at `context` (default: its current one). `identity` goes into the user agent,
        so the API server's audit log tells the callers apart."""
        from kubernetes_asyncio import client, config  # the library only where it is used

        if os.environ.get("KUBERNETES_SERVICE_HOST") and not (config_file or context):
            config.load_incluster_config()  # type: ignore[no-untyped-call]
        else:
            await config.load_kube_config(config_file=config_file, context=context)
        api = client.ApiClient()
        api.user_agent = f"spofless/{__version__}" + (f" ({identity})" if identity else "")
        return cls(api)

    async def close(self) -> None:
        await self.client.close()

    async def call(
        self,
        method: str,
        url: str,
        body: Any = None,
        query: list[tuple[str, str]] | None = None,
        content_type: str = "application/json",
    ) -> Any:
        return await self.client.call_api(
            url,
            method,
            query_params=query or [],
            header_params={"Content-Type": content_type, "Accept": "application/json"},
            body=body,
            response_types_map={200: "object", 201: "object"},
            auth_settings=["BearerToken"],
            _return_http_data_only=True,
            _request_timeout=REQUEST_TIMEOUT,
        )


async def current_namespace(config_file: str | None = None, context: str | None = None) -> str:
    """The namespace of the kubeconfig's context (`context`, or its current one; "default" when it names none)."""
    if os.environ.get("KUBERNETES_SERVICE_HOST") and not (config_file or context):
        try:
            with open("/var/run/secrets/kubernetes.io/serviceaccount/namespace") as f:
                return f.read().strip() or "default"
        except OSError:
            return "default"
    from kubernetes_asyncio import config

    contexts, active = config.list_kube_config_contexts(config_file)
    if context:
        active = next((c for c in contexts or [] if c.get("name") == context), None)
        if active is None:
            raise config.ConfigException(f"no context {context} in the kubeconfig")
    return str((active or {}).get("context", {}).get("namespace") or "default")
