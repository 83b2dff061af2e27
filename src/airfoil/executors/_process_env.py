"""The process executor's workers start without the platform's credentials in their
environment (:mod:`airfoil.core.worker_env` says which). Import this only in the forkserver.

multiprocessing starts its forkserver with the environment of the process that first starts
a worker (a server's: ``AIRFOIL_SECRETS_KEY``, ``AIRFOIL_DATABASE_URL``...), and every
worker forked from it inherits that environment, in ``os.environ`` and in the memory the
kernel shows as ``/proc/<pid>/environ``; removing the variables from ``os.environ`` would
leave them in that memory. So this module, the forkserver's first preloaded module, replaces
the forkserver's process image (``execve``: same pid, the listener and "alive" pipes it was
handed stay open) with the same command under the cleaned environment, before anything else
is imported; the new image imports this module again, finds nothing to remove, and goes on
with the other preloads. This costs one interpreter start, once per forkserver (not per
worker or task).

Workers started with the ``spawn`` method clean ``os.environ`` only (the worker's first
step, :func:`airfoil.executors._process_worker.worker_main`): the kernel's copy of their
initial environment keeps the variables there.
"""

from __future__ import annotations

import os
import sys

from airfoil.core.worker_env import denied_names, worker_environ

__all__ = ["restart_clean"]

#: What the forkserver's command starts with (``python -c '<this>...'``).
_FORKSERVER = "from multiprocessing.forkserver import main"


def restart_clean() -> None:
    """In a forkserver whose environment holds a denied variable: exec the same command
    under the cleaned environment (see the module docstring). Anywhere else: nothing."""
    argv = list(getattr(sys, "orig_argv", ()))
    if not any(a.startswith(_FORKSERVER) for a in argv[1:]):
        return  # not multiprocessing's forkserver: never replace another process
    if not denied_names(list(os.environ)):
        return
    sys.stdout.flush()
    sys.stderr.flush()
    os.execve(sys.executable, argv, worker_environ(os.environ))


restart_clean()
