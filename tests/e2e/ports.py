"""Ports for the processes the tests start (operators' liveness and metrics, Prometheus).

A port found free by binding port 0 comes from the kernel's ephemeral range (32768-60999 here), and
until the process it is meant for binds it, any outgoing connection on the machine may take it as its
source port: a data-center scenario's operator once failed to start that way ("address already in
use" on its liveness port). These come from below that range, and below the ports kwokctl gives its
clusters (it counts down from 32767), and no port is handed out twice in a run."""

from __future__ import annotations

import os
import random
import socket

RANGE = range(20000, 30000)
_ports = iter(random.Random(os.getpid()).sample(RANGE, len(RANGE)))


def free_port() -> int:
    """A port on 127.0.0.1 that nothing listens on now, and that this run has not handed out before."""
    for port in _ports:
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
        return port
    raise RuntimeError(f"no free port left in {RANGE.start}-{RANGE.stop - 1}")
