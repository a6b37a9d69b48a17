"""The few Kubernetes API calls the operator makes: server-side apply, delete, status patch.

Plain dicts in and out over kubernetes_asyncio's ApiClient, so one generic path serves
every kind the operator owns.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from typing import Any

from kubernetes_asyncio import client, config
from kubernetes_asyncio.client.exceptions import ApiException

from spofless.core import api, naming

# kind -> (API path prefix, plural): every kind the operator writes.
_PATHS = {
    "Deployment": ("/apis/apps/v1", "deployments"),
    "PodDisruptionBudget": ("/apis/policy/v1", "poddisruptionbudgets"),
    "Service": ("/api/v1", "services"),
    api.KIND: (f"/apis/{api.GROUP}/{api.VERSION}", api.PLURAL),
}


REQUEST_TIMEOUT = 30  # seconds; a hung call must end so the pass (and liveness) can move on


class Refused(Exception):
    """The API server refused an object as invalid (HTTP 400 or 422): a spec problem, not an outage."""

    def __init__(self, kind: str, name: str, message: str) -> None:
        super().__init__(f"{kind} {name}: {message}")
        self.kind, self.name, self.message = kind, name, message


def api_message(err: ApiException) -> str:
    """The human part of an API error (the Status object's message)."""
    try:
        return str(json.loads(err.body or "{}").get("message") or err.reason)
    except (TypeError, ValueError):
        return str(err.reason)


def describe(err: Exception) -> str:
    """One line for a log or a status: the API's own message where there is one."""
    if isinstance(err, ApiException):
        return f"{err.status} {err.reason}: {api_message(err)}"
    return str(err) or type(err).__name__


def path(kind: str, namespace: str, name: str, subresource: str = "") -> str:
    prefix, plural = _PATHS[kind]
    tail = f"/{subresource}" if subresource else ""
    return f"{prefix}/namespaces/{namespace}/{plural}/{name}{tail}"


@dataclass
class Kube:
    client: client.ApiClient
    field_manager: str = naming.FIELD_MANAGER

    @classmethod
    async def connect(cls) -> Kube:
        """In-cluster credentials when running in a pod, else the kubeconfig (KUBECONFIG or ~/.kube/config)."""
        if os.environ.get("KUBERNETES_SERVICE_HOST"):
            config.load_incluster_config()  # type: ignore[no-untyped-call]
        else:
            await config.load_kube_config()
        return cls(client.ApiClient())

    async def close(self) -> None:
        await self.client.close()

    async def _call(
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

    async def apply(self, manifest: dict[str, Any], dry_run: bool = False) -> dict[str, Any]:
        """Server-side apply with the operator's one field manager; returns the object as stored."""
        meta = manifest["metadata"]
        query = [("fieldManager", self.field_manager), ("force", "true")]
        if dry_run:
            query.append(("dryRun", "All"))
        try:
            result: dict[str, Any] = await self._call(
                "PATCH", path(manifest["kind"], meta["namespace"], meta["name"]), manifest, query,
                "application/apply-patch+yaml",
            )  # fmt: skip
        except ApiException as err:
            if err.status in (400, 422):
                raise Refused(manifest["kind"], meta["name"], api_message(err)) from err
            raise
        return result

    async def delete(self, kind: str, namespace: str, name: str) -> None:
        """Deletes one child; already gone is fine. Foreground, so its pods go before it does."""
        body = {"kind": "DeleteOptions", "apiVersion": "v1", "propagationPolicy": "Foreground"}
        try:
            await self._call("DELETE", path(kind, namespace, name), body)
        except ApiException as err:
            if err.status != 404:
                raise

    async def patch_status(self, namespace: str, name: str, status: dict[str, Any]) -> None:
        """Merge-patches the status subresource."""
        await self._call(
            "PATCH", path(api.KIND, namespace, name, "status"), {"status": status}, None, "application/merge-patch+json"
        )
