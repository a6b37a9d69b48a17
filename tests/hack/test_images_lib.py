"""The helpers only a cold run reaches (hack/lib/images.sh): which Debian mirror debootstrap is given,
and whether a container registry answers. Each test writes its own apt sources and its own `docker`
stand-in, so nothing depends on this machine's."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

HACK = Path(__file__).resolve().parents[2] / "hack"


def sh(script: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """Runs SCRIPT in bash with the hack libraries sourced, under the scripts' own `set -euo pipefail`."""
    prelude = f"set -euo pipefail; HACK_DIR={HACK}; source {HACK}/lib/tools.sh; source {HACK}/lib/images.sh\n"
    return subprocess.run(
        ["bash", "-c", prelude + script],
        capture_output=True,
        text=True,
        env={**os.environ, **(env or {})},
        timeout=60,
    )


def mirror(etc: Path) -> str:
    result = sh(f"debian_mirror {etc}")
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


DEB822 = """\
Types: deb
# http://snapshot.example/archive/debian/20250520T000000Z
URIs: http://mirror.example/debian
Suites: bookworm bookworm-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb
URIs: http://mirror.example/debian-security
Suites: bookworm-security
Components: main
"""


def write(etc: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        path = etc / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    (etc / "sources.list.d").mkdir(parents=True, exist_ok=True)
    return etc


def test_deb822_sources_without_a_sources_list(tmp_path: Path) -> None:
    # The fresh machine's shape: no /etc/apt/sources.list at all, which made grep exit 2 and kill the run.
    etc = write(tmp_path, {"sources.list.d/debian.sources": DEB822})
    assert mirror(etc) == "http://mirror.example/debian"


def test_one_line_sources_with_options(tmp_path: Path) -> None:
    etc = write(
        tmp_path,
        {
            "sources.list": "# deb http://commented.example/debian bookworm main\n"
            "deb-src http://src.example/debian bookworm main\n"
            "deb [arch=amd64 signed-by=/k.gpg] https://one-line.example/debian bookworm main contrib\n"
        },
    )
    assert mirror(etc) == "https://one-line.example/debian"


def test_other_suites_and_disabled_stanzas_are_passed_over(tmp_path: Path) -> None:
    etc = write(
        tmp_path,
        {
            "sources.list.d/a-vendor.list": "deb https://vendor.example/apt cloud-sdk-bookworm main\n",
            "sources.list.d/b-off.sources": "Types: deb\nURIs: http://off.example/debian\nSuites: bookworm\nEnabled: no\n",
            "sources.list.d/c-src.sources": "Types: deb-src\nURIs: http://src.example/debian\nSuites: bookworm\n",
            "sources.list.d/d-multi.sources": "Types: deb deb-src\nURIs: cdrom:/x\n http://second.example/debian\n"
            "Suites:\n bullseye\n bookworm\n",
        },
    )
    assert mirror(etc) == "http://second.example/debian"


def test_files_named_like_disabled_sources_are_ignored(tmp_path: Path) -> None:
    etc = write(tmp_path, {"sources.list.d/x.list.disabled": "deb http://disabled.example/debian bookworm main\n"})
    assert mirror(etc) == ""


def test_no_sources_at_all_means_the_default_mirror(tmp_path: Path) -> None:
    assert mirror(tmp_path / "absent") == ""
    assert mirror(write(tmp_path / "empty", {})) == ""


def fake_docker(tmp_path: Path, exit_code: int) -> dict[str, str]:
    """A `docker` first on PATH whose pull exits with EXIT_CODE and records that it was asked."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    script = bin_dir / "docker"
    script.write_text(f'#!/bin/sh\necho "$@" >>{tmp_path}/calls\nexit {exit_code}\n')
    script.chmod(0o755)
    return {"PATH": f"{bin_dir}:{os.environ['PATH']}", "SPOFLESS_REGISTRY": ""}


@pytest.mark.parametrize(("exit_code", "answer"), [(0, "yes"), (1, "no")])
def test_registry_detection_asks_once_and_remembers(tmp_path: Path, exit_code: int, answer: str) -> None:
    env = fake_docker(tmp_path, exit_code)
    result = sh('for i in 1 2 3; do registry_reachable && echo yes || echo no; done; echo "$SPOFLESS_REGISTRY"', env)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == [answer] * 4
    calls = (tmp_path / "calls").read_text().splitlines()
    assert len(calls) == 1 and calls[0].startswith("pull -q debian:bookworm-slim"), calls
    assert f"container registry reachable: {answer}" in result.stderr


def test_a_preset_registry_answer_is_not_checked(tmp_path: Path) -> None:
    env = {**fake_docker(tmp_path, 0), "SPOFLESS_REGISTRY": "no"}
    result = sh("registry_reachable && echo yes || echo no; debian_image; python_image", env)
    assert result.stdout.split()[0] == "no"
    assert "spofless-local/debian:bookworm-" in result.stdout
    assert not (tmp_path / "calls").exists()


def test_a_failing_command_says_what_and_where(tmp_path: Path) -> None:
    # The ERR trap: the run that used to exit 2 with no message now names the command and its line.
    result = sh("inner() { grep -q x /nonexistent/file; }\nouter() { inner; }\nouter\necho unreachable")
    assert result.returncode == 2
    assert "unreachable" not in result.stdout
    assert "error: 'grep -q x /nonexistent/file' failed (exit 2) at inner@" in result.stderr
    assert "outer@" in result.stderr


def test_a_quiet_step_that_fails_names_its_log(tmp_path: Path) -> None:
    logf = tmp_path / "logs" / "step.log"
    result = sh(f"quietly {logf} sh -c 'echo the real reason; exit 3'")
    assert result.returncode == 3
    assert f"its log: {logf}" in result.stderr
    assert "the real reason" in result.stderr
    assert result.stderr.count("error:") == 1, result.stderr
