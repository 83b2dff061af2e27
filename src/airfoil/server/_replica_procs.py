"""A deployment's replica process as the supervisor (:mod:`airfoil.server._supervisor`)
sees it: what it knows of the process, what its ``/health`` says, and the record of one that
exited."""

from __future__ import annotations

import socket
import subprocess
from dataclasses import dataclass
from typing import NamedTuple

import httpx
import msgspec

from airfoil.core import ports
from airfoil.core.backoff import doubling
from airfoil.server._zygotes import Zygote
from airfoil.store.deployments import Replica

__all__ = ["Health", "Process", "backoff_s", "exited", "free_port", "health", "port_free"]

_FIRST_BACKOFF_S = 0.5
_MAX_BACKOFF_S = 30.0


def backoff_s(restarts: int) -> float:
    """The wait before the ``restarts``-th restart in a row (1, 2, ...), for any count (a
    replica that fails for days)."""
    return doubling(_FIRST_BACKOFF_S, restarts - 1, _MAX_BACKOFF_S)


def free_port() -> int:
    """A port of 127.0.0.1 nobody listens on now, outside the ephemeral range (a replica
    binds it a while later: see :mod:`airfoil.core.ports`)."""
    return ports.free_port("127.0.0.1")


@dataclass
class Process:
    popen: subprocess.Popen[bytes] | None  # None: adopted from an earlier server, or forked
    pid: int
    port: int
    started: float
    last_answer: float
    zygote: Zygote | None = None  # the zygote that forked it (it reports the exit code)
    cpus: tuple[int, ...] = ()  # pinned to
    killed_for: str = ""  # why the supervisor killed it ("out of memory: ...")
    exited_at: float | None = None  # seen exited, its zygote yet to report the code
    key_checked: bool = False  # asked once the server had a key whether it answers without
    stuck: str = ""  # what its /health said when it last answered 503 "stuck" ("": not)

    def silent_for(self, waited_s: float) -> str:
        """Why it is killed after ``waited_s`` without a healthy answer: its ``/health``'s
        503 detail while it says it is stuck, else that it does not answer."""
        if self.stuck:
            return f"stuck: {self.stuck}"
        return f"not answering /health for {waited_s:g} s"


class Health(NamedTuple):
    """What a replica's ``/health`` said: the version it serves, and while a prediction runs
    past its timeout (a 503 ``stuck``) the detail (how long, the timeout), else ``""``."""

    version: int
    stuck: str = ""


def health(http: httpx.Client, port: int, name: str) -> Health | None:
    """What the service on ``port`` says of its health, if it is ``name``'s and answers: a
    stuck one (503 ``stuck``) answers too, it is the deployment's replica (a supervisor that
    took it for silent left it running unsignalled, beside its replacement, even after
    ``deploy stop``)."""
    try:
        r = http.get(f"http://127.0.0.1:{port}/health")
        body = r.json() if r.status_code in (200, 503) else {}
    except (httpx.HTTPError, ValueError):
        return None
    if not isinstance(body, dict) or body.get("model") != name:
        return None
    version = body.get("version")
    if not isinstance(version, int) or isinstance(version, bool):
        return None
    if r.status_code == 200:
        return Health(version)
    if body.get("status") != "stuck":
        return None
    detail = body.get("detail")
    return Health(version, detail if isinstance(detail, str) and detail else "stuck")


def exited(
    r: Replica, code: int | None, now: float, stable: bool = False, reason: str = ""
) -> Replica:
    """The record of replica ``r`` that exited (``code``; ``reason``: why the supervisor
    ended it), restarted after its backoff (from the first again if it ran ``stable``)."""
    streak = 1 if stable else r.streak + 1  # exits in a row, each soon after its start
    return msgspec.structs.replace(
        r,
        exit_reason=reason,
        pid=None,
        status="backoff",
        restarts=r.restarts + 1,
        streak=streak,
        last_exit=code,
        version=None,
        next_start_at=now + backoff_s(streak),
    )


def port_free(port: int) -> bool:
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn binds
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True
