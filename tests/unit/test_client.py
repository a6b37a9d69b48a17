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
