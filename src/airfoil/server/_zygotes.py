"""The supervisor's side of a deployment's zygote (:mod:`airfoil.ml._zygote`, a process
that imported the service's libraries and the model's file once and forks replicas).

A :class:`Zygote` starts the process, reads what it says on a thread of its own (``ready``,
the answers to spawn requests, its children's exits) and sends spawn requests. It never
signals the children: they are the supervisor's replicas, watched by pid and ``/health``
like any other. Closing a zygote closes its stdin; it exits and its children keep serving.

The pipes' ends this process holds are closed on exec (as every pipe Python makes), and in a
child forked without exec they are pointed at ``/dev/null`` at once
(:func:`airfoil.core.forks.at_fork_in_child`, from the first zygote on):
a child holding the zygote's stdin open would keep the zygote alive after this process died.
"""

from __future__ import annotations

import itertools
import json
import logging
import os
import subprocess
import threading
import time
import weakref
from typing import Any

from airfoil.core.forks import at_fork_in_child

__all__ = ["Zygote", "ZygoteError"]

log = logging.getLogger("airfoil.server.deployments")


#: The zygotes this process started and has not closed (their pipes are released in a fork).
_live: weakref.WeakSet[Zygote] = weakref.WeakSet()


def _release_pipes_in_child() -> None:
    """In a child forked without exec: point the zygotes' pipe ends at ``/dev/null``. The
    descriptors stay open (the file objects still own them and may flush or close them) but
    no longer hold the pipes: the zygote sees its stdin close when the parent closes it or
    dies."""
    for zygote in list(_live):
        for pipe, mode in ((zygote._proc.stdin, os.O_WRONLY), (zygote._proc.stdout, os.O_RDONLY)):
            if pipe is None:
                continue
            try:
                fd = pipe.fileno()
            except ValueError:  # closed
                continue
            null = os.open(os.devnull, mode | os.O_CLOEXEC)
            try:
                os.dup2(null, fd, inheritable=False)
            finally:
                os.close(null)


class ZygoteError(RuntimeError):
    """The zygote could not fork a replica (it is gone, refused, or did not answer)."""


class Zygote:
    """A deployment's zygote process.

    Args:
        python: the interpreter.
        ref: the deployment's model reference (its model file is imported).
        file: the file defining the model ("" for the one recorded at registration).
        env: the process's environment (the deployment's project and the registry's URLs).
        log_path: where its own output goes.
    """

    def __init__(
        self, python: str, ref: str, file: str, env: dict[str, str], log_path: str
    ) -> None:
        self.ref = ref
        self.file = file
        self.error: str | None = None
        self.started = time.monotonic()
        self._ready = threading.Event()
        self._lock = threading.Condition()
        self._answers: dict[int, dict[str, Any]] = {}
        self._exits: dict[int, int] = {}
        self._ids = itertools.count(1)
        at_fork_in_child(_release_pipes_in_child)  # before its pipes exist
        command = [python, "-m", "airfoil.ml._zygote", ref]
        if file:
            command += ["--file", file]
        with open(log_path, "ab") as out:
            self._proc = subprocess.Popen(
                command,
                env=env,
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=out,
                start_new_session=True,
            )
        _live.add(self)
        self._reader = threading.Thread(
            target=self._read, name="airfoil-zygote-reader", daemon=True
        )
        self._reader.start()

    @property
    def pid(self) -> int:
        return self._proc.pid

    @property
    def ready(self) -> bool:
        """It imported everything and forks on request (and has not exited since)."""
        return self._ready.is_set() and self.error is None and self._proc.poll() is None

    @property
    def failed(self) -> bool:
        """It refused or exited: it forks nothing more."""
        return self.error is not None or self._proc.poll() is not None

    def wait_ready(self, timeout: float) -> bool:
        self._ready.wait(timeout)
        return self.ready

    def _read(self) -> None:
        assert self._proc.stdout is not None
        for raw in self._proc.stdout:
            try:
                message = json.loads(raw)
            except ValueError:
                continue
            with self._lock:
                if "exited" in message:
                    self._exits[int(message["exited"])] = int(message["code"])
                elif "spawned" in message:
                    self._answers[int(message["spawned"])] = message
                elif "ready" in message:
                    self._ready.set()
                elif "error" in message:
                    self.error = str(message["error"])
                    self._ready.set()
                self._lock.notify_all()
        with self._lock:
            if self.error is None:
                self.error = f"the zygote exited ({self._proc.wait()})"
            self._ready.set()
            self._lock.notify_all()

    def spawn(self, request: dict[str, Any], timeout: float = 10.0) -> int:
        """Fork a replica; its pid. The zygote forks nothing once ``timeout`` has passed
        (or ``request``'s own ``deadline``, epoch seconds, if it has one).

        Raises:
            ZygoteError: the zygote is not ready, refused, or did not answer in ``timeout``.
        """
        if not self.ready:
            raise ZygoteError(self.error or "the zygote is not ready")
        ident = next(self._ids)
        # Past the deadline the zygote forks nothing: after a timeout here the replica is
        # started cold, and a late fork would be a second process on its port.
        deadline = time.time() + timeout
        line = json.dumps({"deadline": deadline, **request, "spawn": ident}) + "\n"
        assert self._proc.stdin is not None
        try:
            self._proc.stdin.write(line.encode())
            self._proc.stdin.flush()
        except (BrokenPipeError, OSError) as exc:
            raise ZygoteError(f"the zygote is gone: {exc}") from exc
        deadline = time.monotonic() + timeout
        with self._lock:
            while ident not in self._answers:
                left = deadline - time.monotonic()
                if left <= 0 or (self.error is not None and ident not in self._answers):
                    raise ZygoteError(self.error or f"the zygote did not answer in {timeout} s")
                self._lock.wait(left)
            answer = self._answers.pop(ident)
        if "error" in answer:
            raise ZygoteError(str(answer["error"]))
        return int(answer["pid"])

    def exit_code(self, pid: int) -> tuple[bool, int | None]:
        """``(exited, code)`` of a replica it forked, as far as it said."""
        with self._lock:
            if pid in self._exits:
                return True, self._exits[pid]
        return False, None

    def forget(self, pid: int) -> None:
        with self._lock:
            self._exits.pop(pid, None)

    def close(self, timeout: float = 5.0) -> None:
        """Make it exit (its children keep serving)."""
        _live.discard(self)
        try:
            if self._proc.stdin is not None:
                self._proc.stdin.close()
        except OSError:
            pass
        try:
            self._proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self._proc.kill()
            self._proc.wait()
        self._reader.join(timeout)
