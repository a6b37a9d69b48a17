"""The tools the chart tests run: helm (built by hack/test.sh), and promtool and kube-score where needed."""

from __future__ import annotations

import pytest

from .render import helm_binary, tool


@pytest.fixture(scope="session")
def helm() -> str:
    return helm_binary()


@pytest.fixture(scope="session")
def promtool() -> str:
    return tool("PROMTOOL", "promtool", "Debian's prometheus package; hack/test.sh installs it")
