"""tests/e2e/ports.py: ports for the processes the tests start, away from the ephemeral range."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from tests.e2e import ports


def ephemeral() -> range:
    low, high = (int(n) for n in Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split())
    return range(low, high + 1)


def test_ports_are_below_the_ephemeral_range_and_never_handed_out_twice() -> None:
    handed = [ports.free_port() for _ in range(50)]
    assert len(set(handed)) == len(handed)
    assert all(p in ports.RANGE and p not in ephemeral() for p in handed), handed


def test_a_port_something_listens_on_is_skipped(monkeypatch: pytest.MonkeyPatch) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        busy = taken.getsockname()[1]
        with socket.socket() as free:
            free.bind(("127.0.0.1", 0))
            idle = free.getsockname()[1]
        monkeypatch.setattr(ports, "_ports", iter([busy, idle]))
        assert ports.free_port() == idle


def test_running_out_says_so(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(ports, "_ports", iter([]))
    with pytest.raises(RuntimeError, match="no free port left"):
        ports.free_port()
