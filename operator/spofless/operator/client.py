"""The operator's own API transport: plain aiohttp, no client library.

kopf imports kubernetes_asyncio's whole model package (~38 MB of RSS) whenever the library can be
imported; the operator blocks that import (cli.py) and talks to the API server through this.
Credentials are found as kopf finds them without a library: the pod's ServiceAccount, else the
kubeconfig's current context (a token, or a client certificate; no exec plugins: in a pod there
is none, and `spofless audit`, which runs on people's machines, keeps the library's loader).
A 401 reads the credentials again once: a ServiceAccount's token is rotated under a running pod.
In a pod, the API server is reached at the kubernetes Service's address (KUBERNETES_SERVICE_HOST, as
client-go does), never through a name only the cluster's DNS answers; kopf's watches too (handlers.py).
"""

from __future__ import annotations

import base64
import json
import os
import ssl
import tempfile
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import aiohttp
import yaml

from spofless import __version__
from spofless.kube import CONNECT_TIMEOUT, REQUEST_TIMEOUT, ApiError, Calls

ACCOUNT = "/var/run/secrets/kubernetes.io/serviceaccount"


@dataclass(frozen=True)
class Credentials:
    server: str
    token: str | None = None
    ca_file: str | None = None
    cert_file: str | None = None
    key_file: str | None = None
    insecure: bool = False

    def ssl_context(self) -> ssl.SSLContext | bool:
        if self.insecure:
            return False
        context = ssl.create_default_context(cafile=self.ca_file)
        if self.cert_file and self.key_file:
            context.load_cert_chain(self.cert_file, self.key_file)
        return context


def _file(path: str | None, data: str | None, directory: str) -> str | None:
    """A kubeconfig's *-data (base64) as a file ssl can load; a path as it is."""
    if path or not data:
        return os.path.expanduser(path) if path else None
    handle, name = tempfile.mkstemp(dir=directory)
    with os.fdopen(handle, "wb") as f:
        f.write(base64.b64decode(data))
    return name


def pod_credentials() -> Credentials | None:
    """The pod's ServiceAccount, at the kubernetes Service's address; None outside a pod."""
    if not (os.environ.get("KUBERNETES_SERVICE_HOST") and os.path.exists(f"{ACCOUNT}/token")):
        return None
    host, port = os.environ["KUBERNETES_SERVICE_HOST"], os.environ.get("KUBERNETES_SERVICE_PORT", "443")
    with open(f"{ACCOUNT}/token", encoding="utf-8") as f:
        token = f.read().strip()
    server = f"https://[{host}]:{port}" if ":" in host else f"https://{host}:{port}"
    return Credentials(server=server, token=token, ca_file=f"{ACCOUNT}/ca.crt")


def find_credentials(kubeconfig: str | None = None) -> Credentials:
    """The pod's ServiceAccount when in a pod, else the kubeconfig's current context."""
    in_pod = pod_credentials()
    if in_pod is not None:
        return in_pod
    path = kubeconfig or os.environ.get("KUBECONFIG", "").split(os.pathsep)[0] or "~/.kube/config"
    with open(os.path.expanduser(path), encoding="utf-8") as f:
        config = yaml.safe_load(f) or {}
    named = {kind: {i["name"]: i.get(kind[:-1]) or {} for i in config.get(kind) or []}
             for kind in ("contexts", "clusters", "users")}  # fmt: skip
    context = named["contexts"].get(config.get("current-context"))
    if not context:
        raise RuntimeError(f"the kubeconfig {path} has no current context")
    cluster, user = named["clusters"].get(context.get("cluster"), {}), named["users"].get(context.get("user"), {})
    if user.get("exec") or user.get("auth-provider"):
        raise RuntimeError(f"the kubeconfig {path} authenticates through a plugin, which the operator does not run")
    directory = tempfile.mkdtemp(prefix="spofless-")
    return Credentials(
        server=str(cluster.get("server", "")).rstrip("/"),
        token=user.get("token"),
        ca_file=_file(cluster.get("certificate-authority"), cluster.get("certificate-authority-data"), directory),
        cert_file=_file(user.get("client-certificate"), user.get("client-certificate-data"), directory),
        key_file=_file(user.get("client-key"), user.get("client-key-data"), directory),
        insecure=bool(cluster.get("insecure-skip-tls-verify")),
    )


class Client(Calls):
    def __init__(self, credentials: Credentials, identity: str = "") -> None:
        self.credentials = credentials
        self.user_agent = f"spofless/{__version__}" + (f" ({identity})" if identity else "")
        self._session: aiohttp.ClientSession | None = None

    @classmethod
    async def connect(cls, identity: str = "") -> Client:
        return cls(find_credentials(), identity)

    def _open(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            connector = aiohttp.TCPConnector(ssl=self.credentials.ssl_context(), limit=100)
            self._session = aiohttp.ClientSession(
                base_url=self.credentials.server,
                connector=connector,
                timeout=aiohttp.ClientTimeout(total=REQUEST_TIMEOUT, sock_connect=CONNECT_TIMEOUT),
                headers={"User-Agent": self.user_agent, "Accept": "application/json"},
            )
        return self._session

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()

    async def call(
        self,
        method: str,
        url: str,
        body: Any = None,
        query: list[tuple[str, str]] | None = None,
        content_type: str = "application/json",
    ) -> Any:
        for attempt in (1, 2):
            headers = {"Content-Type": content_type}
            if self.credentials.token:
                headers["Authorization"] = f"Bearer {self.credentials.token}"
            data = json.dumps(body).encode() if body is not None else None
            async with self._open().request(method, url, data=data, params=query or [], headers=headers) as reply:
                if reply.status == 401 and attempt == 1:
                    self.credentials = find_credentials()  # a rotated token: read it again, once
                    await self.close()
                    continue
                if reply.status >= 400:
                    raise ApiError(reply.status, reply.reason or "", await reply.text(), reply.headers)
                return await reply.json(content_type=None)
        raise AssertionError("unreachable")

    async def stream(self, url: str, query: list[tuple[str, str]]) -> AsyncIterator[dict[str, Any]]:
        """The events of a watch, one JSON object a line, until the server ends it."""
        headers = {"Authorization": f"Bearer {self.credentials.token}"} if self.credentials.token else {}
        timeout = aiohttp.ClientTimeout(total=None, sock_connect=CONNECT_TIMEOUT, sock_read=REQUEST_TIMEOUT * 12)
        async with self._open().get(url, params=query, headers=headers, timeout=timeout) as reply:
            if reply.status >= 400:
                raise ApiError(reply.status, reply.reason or "", await reply.text(), reply.headers)
            # Split the lines ourselves: aiohttp's line reader refuses a line over its buffer's high-water
            # mark (512 KiB), and one object may be up to the API server's 1.5 MiB.
            buffer = bytearray()
            async for chunk in reply.content.iter_any():
                buffer += chunk
                start = 0
                while (end := buffer.find(b"\n", start)) != -1:
                    line, start = buffer[start:end], end + 1
                    if line.strip():
                        yield json.loads(line)
                del buffer[:start]
            if buffer.strip():
                yield json.loads(buffer)
