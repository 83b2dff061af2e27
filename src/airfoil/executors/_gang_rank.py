"""One rank of a :class:`~airfoil.executors._gang.ProcessGang`: ``python -m`` this module with
the job file (the pickled entry and payload) and where to write the outcome.

The outcome is a msgpack :class:`~airfoil.executors._gang.RankOutcome` (``ok`` with the entry's
result bytes, or what it raised). A rank killed before it writes one has none: the gang reports
it as lost.
"""

from __future__ import annotations

import contextlib
import os
import pickle
import signal
import sys
import threading
import time

import msgspec

from airfoil.executors._gang import call_rank


def _orphan_watch(parent: int) -> None:
    """End this rank (and what it started) once its gang's supervisor is gone: a killed
    worker leaves no rank running."""
    while os.getppid() == parent:
        time.sleep(0.2)
    with contextlib.suppress(OSError):
        os.killpg(os.getpgrp(), signal.SIGKILL)
    os._exit(1)


def run_rank(job_path: str, out_path: str) -> int:
    """Run the job's entry; write the outcome; the exit status (0: it returned)."""
    rank = int(os.environ.get("RANK", "0"))
    threading.Thread(target=_orphan_watch, args=(os.getppid(),), daemon=True).start()
    with open(job_path, "rb") as f:
        entry, payload = pickle.load(f)
    outcome = call_rank(entry, payload, rank)
    tmp = out_path + ".tmp"
    with open(tmp, "wb") as f:
        f.write(msgspec.msgpack.encode(outcome))
    os.replace(tmp, out_path)
    sys.stdout.flush()
    sys.stderr.flush()
    return 0 if outcome.ok else 1


if __name__ == "__main__":
    sys.exit(run_rank(sys.argv[1], sys.argv[2]))
