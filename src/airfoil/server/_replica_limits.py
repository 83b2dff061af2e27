"""Enforcing a process replica's resources (``airfoil deploy --memory M --cpus C``), without
root and without cgroups.

- **Memory**: the supervisor reads the resident memory (RSS) of the replica's process and
  all its descendants every pass; over the replica's ``memory`` it kills the replica's whole
  process group (SIGKILL) and the replica's exit is recorded as ``out of memory``, then it
  is restarted per the restart policy. RSS counts shared pages (the libraries; for a
  zygote-forked replica the pages it shares with the zygote) in full, as ``top`` shows them:
  the same figure a cold replica would have, and never less than the replica really holds.
  Between two passes (``interval_s``) a replica can overshoot; an address-space limit
  (``RLIMIT_AS``) is not used because numpy, BLAS and PyTorch reserve far more virtual
  memory than they use, so it kills healthy replicas.
- **CPU**: a replica asking for ``C`` >= 1 CPUs is pinned (``sched_setaffinity``) to
  ``floor(C)`` whole CPUs of the server's, the ones fewest other pinned replicas of this
  supervisor use; the fraction of a CPU (``C`` < 1, or the ``.5`` of 1.5) is not enforced
  (it is admitted only). Threads the replica starts inherit its CPUs.
"""

from __future__ import annotations

import math
import os
import signal
from collections import Counter
from collections.abc import Iterable

__all__ = ["describe_mib", "kill_group", "pid_alive", "pick_cpus", "signal_pid", "tree_rss"]


def tree_rss(pid: int) -> int | None:
    """Resident bytes of ``pid`` and its descendants (None: it is gone)."""
    import psutil

    try:
        root = psutil.Process(pid)
        total = int(root.memory_info().rss)
        children = root.children(recursive=True)
    except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
        return None
    for child in children:
        try:
            total += int(child.memory_info().rss)
        except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
            continue
    return total


def kill_group(pid: int) -> None:
    """SIGKILL the process group ``pid`` leads (a replica runs in a session of its own), or
    the process alone if it leads none."""
    try:
        if os.getpgid(pid) == pid:
            os.killpg(pid, signal.SIGKILL)
            return
    except (ProcessLookupError, PermissionError):
        return
    try:
        os.kill(pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


def pick_cpus(cpu: float, taken: Iterable[tuple[int, ...]]) -> tuple[int, ...]:
    """The ``floor(cpu)`` CPUs of this process's to pin a replica to: those the fewest
    replicas in ``taken`` use (lowest ids first); ``()`` below one CPU (not enforced)."""
    want = math.floor(cpu + 1e-9)
    if want < 1:
        return ()
    mine = sorted(os.sched_getaffinity(0))
    if want >= len(mine):
        return tuple(mine)
    load = Counter(c for cpus in taken for c in cpus)
    return tuple(sorted(sorted(mine, key=lambda c: (load[c], c))[:want]))


def describe_mib(n: int) -> str:
    """``n`` bytes as ``"912 MiB"``."""
    return f"{n / 2**20:.0f} MiB"


def pid_alive(pid: int) -> bool:
    """Whether ``pid`` runs (a zombie, exited and not yet reaped, does not)."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            return f.read().rsplit(b")", 1)[-1].split()[0] != b"Z"
    except FileNotFoundError:
        return False
    except OSError:
        pass  # no /proc here: ask the kernel
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def signal_pid(pid: int, sig: int) -> None:
    """Sends ``sig`` to ``pid``, if it still runs and may be signalled."""
    try:
        os.kill(pid, sig)
    except (ProcessLookupError, PermissionError):
        pass
