"""Picking a TCP port for another process to listen on (a gang's rendezvous, a service
replica, a test's server).

A port found free by binding port 0 and closing the socket, the usual probe, is one the
kernel hands out from its *ephemeral* range (``ip_local_port_range``) -- the same range every
outgoing connection on the host takes its local port from. Between the probe and the other
process's ``bind`` (a second or more, while it starts), any connection on a busy host can be
given that port, and the listener fails with ``Address already in use``. :func:`free_port`
draws from outside that range instead (and checks the port is free now), so only a process
binding that very number could take it; where a consumer can, it still retries on
``EADDRINUSE`` (a gang starts again on another port: ``airfoil.executors._gang.run_gang``).
A consumer that can bind port 0 itself and report the port needs none of this.
"""

from __future__ import annotations

import random
import socket

__all__ = ["ephemeral_range", "free_port"]

#: The lowest port drawn (the registered range above it is mostly unused by default).
LOWEST = 20000
_DRAWS = 64
_PICK = random.SystemRandom()


def ephemeral_range() -> tuple[int, int]:
    """The ports the kernel hands out to ``bind(0)`` and outgoing connections (inclusive)."""
    try:
        with open("/proc/sys/net/ipv4/ip_local_port_range") as f:
            low, high = (int(x) for x in f.read().split()[:2])
        return low, high
    except (OSError, ValueError):
        return 32768, 60999  # Linux's default; elsewhere a guess (the bind checks the port)


def _bindable(host: str, port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        try:
            s.bind((host, port))
        except OSError:
            return False
        return True


def free_port(host: str = "") -> int:
    """A TCP port free on ``host`` now ("": every interface) and outside the kernel's
    ephemeral range; a port the kernel picks where every port is ephemeral."""
    low, high = ephemeral_range()
    spans = [(a, b) for a, b in ((LOWEST, low - 1), (high + 1, 65535)) if a <= b]
    if spans:
        weights = [b - a + 1 for a, b in spans]
        for _ in range(_DRAWS):
            a, b = _PICK.choices(spans, weights)[0]
            port = _PICK.randint(a, b)
            if _bindable(host, port):
                return port
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        found: int = s.getsockname()[1]
        return found
