"""The kubectl plugin as krew installs it: the manifest (plugins/spofless.yaml) in krew's format and
in step with the archive hack/krew-archive.py builds, and the launcher that archive holds, run with
a stand-in Python so that nothing is installed."""

from __future__ import annotations

import io
import os
import re
import subprocess
import sys
import tarfile
import tomllib
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]
LAUNCHER = ROOT / "plugins" / "krew" / "kubectl-spofless"
VERSION = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]


def test_the_manifest_matches_the_archive_byte_for_byte() -> None:
    done = subprocess.run([sys.executable, "hack/krew-archive.py", "--check"], cwd=ROOT, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr


def test_the_manifest_is_a_krew_plugin_whose_bin_is_in_the_archive(tmp_path: Path) -> None:
    manifest = yaml.safe_load((ROOT / "plugins" / "spofless.yaml").read_text())
    assert (manifest["apiVersion"], manifest["kind"]) == ("krew.googlecontainertools.github.com/v1alpha2", "Plugin")
    assert manifest["metadata"]["name"] == "spofless", "kubectl spofless runs kubectl-spofless"
    spec = manifest["spec"]
    assert spec["version"] == f"v{VERSION}"
    assert 0 < len(spec["shortDescription"]) <= 50
    done = subprocess.run([sys.executable, "hack/krew-archive.py", "--out", str(tmp_path)], cwd=ROOT,
                          capture_output=True, text=True)  # fmt: skip
    assert done.returncode == 0, done.stderr
    with tarfile.open(fileobj=io.BytesIO((tmp_path / f"kubectl-spofless-v{VERSION}.tar.gz").read_bytes())) as tar:
        members = {m.name: m for m in tar.getmembers()}
    for platform in spec["platforms"]:
        assert platform["selector"]["matchExpressions"]
        assert platform["uri"].startswith("https://") and platform["uri"].endswith(
            f"/kubectl-spofless-v{VERSION}.tar.gz"
        )
        assert re.fullmatch(r"[0-9a-f]{64}", platform["sha256"])
        assert platform["bin"] in members and members[platform["bin"]].mode & 0o111, "the bin is executable"
        assert {f["from"] for f in platform["files"]} <= set(members)


def test_the_launcher_pins_the_package_version() -> None:
    assert f"\nVERSION={VERSION}\n" in LAUNCHER.read_text()


STAND_IN = """#!/bin/sh
# python3 as the launcher uses it: a version check, `-m venv DIR`, then `-m pip install SPEC`.
case "$1 $2" in
  "-c "*) exit "${FAKE_TOO_OLD:-0}" ;;
  "-m venv") mkdir -p "$3/bin" && cp "$0" "$3/bin/python" ;;
  "-m pip") echo "$*" >> "$FAKE_LOG"
            printf '#!/bin/sh\\necho "plugin: $*"\\n' > "$(dirname "$0")/kubectl-spofless"
            chmod +x "$(dirname "$0")/kubectl-spofless" ;;
esac
"""


def launch(tmp_path: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    python = tmp_path / "python3"
    python.write_text(STAND_IN)
    python.chmod(0o755)
    env = {**os.environ, "SPOFLESS_PYTHON": str(python), "SPOFLESS_PLUGIN_HOME": str(tmp_path / "home"),
           "FAKE_LOG": str(tmp_path / "pip.log"), **env}  # fmt: skip
    return subprocess.run([str(LAUNCHER), *args], capture_output=True, text=True, env=env, timeout=30)


def test_the_launcher_installs_once_then_hands_over_the_arguments(tmp_path: Path) -> None:
    first = launch(tmp_path, "whatif", "--lose", "zone a")
    assert first.returncode == 0, first.stderr
    assert first.stdout == "plugin: whatif --lose zone a\n"
    assert f"installing spofless {VERSION}" in first.stderr
    second = launch(tmp_path, "audit", "-A")
    assert (second.returncode, second.stdout, second.stderr) == (0, "plugin: audit -A\n", "")
    assert (tmp_path / "pip.log").read_text().splitlines() == [f"-m pip install --quiet spofless=={VERSION}"]


def test_the_launcher_refuses_an_old_python_and_says_which(tmp_path: Path) -> None:
    done = launch(tmp_path, "audit", FAKE_TOO_OLD="1")
    assert done.returncode == 2
    assert "needs Python 3.11 or later" in done.stderr and "SPOFLESS_PYTHON" in done.stderr
    assert not (tmp_path / "home").exists()
