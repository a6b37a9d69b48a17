"""The operator's own transport: credentials found without a client library, and the library never
loaded in the operator's process."""

from __future__ import annotations

import base64
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path

import pytest
import yaml

from spofless.operator.client import find_credentials


def kubeconfig(tmp_path: Path, user: Mapping[str, object]) -> Path:
    path = tmp_path / "config"
    path.write_text(yaml.safe_dump({
        "current-context": "here",
        "contexts": [{"name": "here", "context": {"cluster": "c", "user": "u"}}],
        "clusters": [{"name": "c", "cluster": {"server": "https://127.0.0.1:6443/",
                                                "certificate-authority-data": base64.b64encode(b"CA").decode()}}],
        "users": [{"name": "u", "user": user}],
    }))  # fmt: skip
    return path


def test_a_kubeconfig_token_and_ca_data(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("KUBERNETES_SERVICE_HOST", raising=False)
    found = find_credentials(str(kubeconfig(tmp_path, {"token": "t0k"})))
    assert (found.server, found.token, found.cert_file) == ("https://127.0.0.1:6443", "t0k", None)
    assert found.ca_file is not None and Path(found.ca_file).read_bytes() == b"CA"


def test_a_client_certificate_from_data(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("KUBERNETES_SERVICE_HOST", raising=False)
    user = {"client-certificate-data": base64.b64encode(b"CERT").decode(), "client-key": "/keys/k.pem"}
    found = find_credentials(str(kubeconfig(tmp_path, user)))
    assert found.cert_file is not None and Path(found.cert_file).read_bytes() == b"CERT"
    assert found.key_file == "/keys/k.pem"


def test_an_exec_plugin_is_refused_with_a_clear_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("KUBERNETES_SERVICE_HOST", raising=False)
    with pytest.raises(RuntimeError, match="through a plugin"):
        find_credentials(str(kubeconfig(tmp_path, {"exec": {"command": "aws"}})))


def test_the_operator_process_never_loads_the_client_library() -> None:
    """What `spofless run` does before it imports kopf: kopf would pull in kubernetes_asyncio's models."""
    code = (
        "import sys; sys.modules.setdefault('kubernetes_asyncio', None); import kopf;"
        "import spofless.operator.handlers;"
        "print(sorted(m for m in sys.modules if m.startswith('kubernetes_asyncio.')))"
    )
    out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True).stdout
    assert out.strip() == "[]"
    cli = Path(__file__).resolve().parents[2] / "operator" / "spofless" / "cli.py"
    assert 'sys.modules.setdefault("kubernetes_asyncio", None)' in cli.read_text()


def in_a_pod(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from spofless.operator import client

    (tmp_path / "token").write_text("t0k\n")
    (tmp_path / "namespace").write_text("spofless-system")
    (tmp_path / "ca.crt").write_text("CA")
    monkeypatch.setattr(client, "ACCOUNT", str(tmp_path))
    monkeypatch.setenv("KUBERNETES_SERVICE_HOST", "10.96.0.1")
    monkeypatch.setenv("KUBERNETES_SERVICE_PORT", "443")


def test_in_a_pod_kopf_watches_at_the_service_address_not_a_dns_name(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A node back from a power cut: the cluster's DNS answers tens of seconds after the API server
    (on kind, the returning data center's spofless waited 30 s on kopf's https://kubernetes.default.svc)."""
    import kopf

    from spofless.operator import handlers

    in_a_pod(tmp_path, monkeypatch)
    monkeypatch.setattr(handlers, "ACCOUNT", str(tmp_path))
    info = handlers.login(settings=kopf.OperatorSettings(), logger=None)
    assert info is not None
    assert (info.server, info.token, info.default_namespace) == ("https://10.96.0.1:443", "t0k", "spofless-system")
    assert str(info.ca_path) == str(tmp_path / "ca.crt")
    assert find_credentials().server == "https://10.96.0.1:443"  # the operator's own calls: the same


def test_outside_a_pod_kopf_logs_in_from_the_kubeconfig(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import kopf

    from spofless.operator import handlers

    monkeypatch.delenv("KUBERNETES_SERVICE_HOST", raising=False)
    monkeypatch.setenv("KUBECONFIG", str(kubeconfig(tmp_path, {"token": "t0k"})))
    info = handlers.login(settings=kopf.OperatorSettings(), logger=None)
    assert info is not None and info.server == "https://127.0.0.1:6443/" and info.token == "t0k"


def test_a_connection_that_never_opens_fails_after_the_connect_timeout(monkeypatch: pytest.MonkeyPatch) -> None:
    """A SYN that nobody answers (a Service address before kube-proxy has its rules) ends the call after
    CONNECT_TIMEOUT, not after the 30 s request timeout: the caller (the leader election) retries."""
    import asyncio
    import socket
    import time

    import aiohttp

    from spofless.operator import client

    monkeypatch.setattr(client, "CONNECT_TIMEOUT", 0.5)
    # A listening socket whose accept queue is full: the kernel drops further SYNs, so connect() hangs.
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(0)
    port = server.getsockname()[1]
    fillers = []
    while True:  # connect until one hangs: the accept queue is full from then on
        s = socket.socket()
        s.settimeout(0.5)
        try:
            s.connect(("127.0.0.1", port))
        except TimeoutError:
            s.close()
            break
        fillers.append(s)
        assert len(fillers) < 16, "the listening socket never stopped accepting connections"

    async def call() -> float:
        kube = client.Client(client.Credentials(server=f"http://127.0.0.1:{port}"))
        start = time.monotonic()
        try:
            with pytest.raises((aiohttp.ClientError, asyncio.TimeoutError)):
                await kube.call("GET", "/api")
        finally:
            await kube.close()
        return time.monotonic() - start

    try:
        assert asyncio.run(call()) < 5
    finally:
        for s in [*fillers, server]:
            s.close()


def test_a_watch_reads_objects_longer_than_aiohttp_s_line_limit_split_anywhere() -> None:
    """aiohttp's line reader refuses a line over its buffer's high-water mark (512 KiB here); an object
    may be up to the API server's 1.5 MiB. The stream splits lines itself, across chunks of any size."""
    import asyncio
    import json

    from aiohttp import web

    from spofless.operator import client

    from . import local_server

    big = {"type": "ADDED", "object": {"metadata": {"name": "big", "annotations": {"a": "x" * 1_400_000}}}}
    small = {"type": "DELETED", "object": {"metadata": {"name": "small"}}}
    body = (json.dumps(big) + "\n\n" + json.dumps(small)).encode()  # a blank line, and no newline at the end

    async def watch(request: web.Request) -> web.StreamResponse:
        reply = web.StreamResponse()
        await reply.prepare(request)
        for start in range(0, len(body), 7001):  # chunks that cut lines anywhere
            await reply.write(body[start : start + 7001])
        await reply.write_eof()
        return reply

    async def scenario() -> list[dict[str, object]]:
        app = web.Application()
        app.router.add_get("/api/v1/pods", watch)
        runner, url = await local_server.start(app)
        kube = client.Client(client.Credentials(server=url))
        try:
            return [event async for event in kube.stream("/api/v1/pods", [("watch", "true")])]
        finally:
            await kube.close()
            await runner.cleanup()

    assert asyncio.run(scenario()) == [big, small]
