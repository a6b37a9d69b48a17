"""hack/cluster.sh refuses a bad option value before it builds or starts anything."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

CLUSTER = Path(__file__).resolve().parents[2] / "hack" / "cluster.sh"


@pytest.mark.parametrize("value", ["0", "x", "-3", "4.5", ""])
def test_pod_writers_must_be_a_positive_number(value: str, tmp_path: Path) -> None:
    result = subprocess.run(
        ["bash", str(CLUSTER), "up", "--name", "never-made", "--pod-writers", value],
        capture_output=True,
        text=True,
        env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "SPOFLESS_CACHE": str(tmp_path / "cache")},
        timeout=60,
    )
    assert result.returncode != 0
    assert f"--pod-writers takes a positive number, not '{value}'" in result.stderr
    assert not (tmp_path / "cache" / "clusters" / "never-made").exists()
