"""Small pieces the driver loop uses: its retry timers, where local runs read secrets, and
whether the holder of a lease is a process of this host that has exited."""

from __future__ import annotations

import heapq
import os
import socket
from dataclasses import dataclass, field

from airfoil.store.stores import secret_env_name

__all__ = ["Timers", "env_secret", "holder_is_dead", "secret_env_name"]


@dataclass
class Timers:
    """Retry timers of one drive: node ids by the time they are due."""

    heap: list[tuple[float, int, str]] = field(default_factory=list)
    counter: int = 0

    def push(self, at: float, node_id: str) -> None:
        self.counter += 1
        heapq.heappush(self.heap, (at, self.counter, node_id))

    def due(self, now: float) -> list[str]:
        out = []
        while self.heap and self.heap[0][0] <= now:
            out.append(heapq.heappop(self.heap)[2])
        return out

    def next_in(self, now: float) -> float | None:
        return max(0.0, self.heap[0][0] - now) if self.heap else None


def env_secret(name: str) -> str | None:
    """The default secret source of local runs: ``AIRFOIL_SECRET_<NAME>``."""
    return os.environ.get(secret_env_name(name))


def holder_is_dead(owner: str) -> bool:
    """Whether a lease holder ``host:pid:nonce`` is a process of this host that has exited."""
    import psutil

    parts = owner.split(":")
    if len(parts) < 3 or parts[0] != socket.gethostname() or not parts[1].isdigit():
        return False
    pid = int(parts[1])
    if pid == os.getpid():
        return False
    try:
        proc = psutil.Process(pid)
        return bool(proc.status() == psutil.STATUS_ZOMBIE)
    except psutil.NoSuchProcess:
        return True
