"""Signal a local run's gate from a thread once the run is waiting (shared by the gate tests)."""

from __future__ import annotations

import threading
import time

from airfoil.core.errors import InvalidInputError, NotFoundError
from airfoil.engine.signals import send_signal
from airfoil.local import get_runtime


def send_when_waiting(name: str, text: str, expect_error: bool = False) -> threading.Thread:
    """A started thread that sends ``text`` to gate ``name`` of the running execution, retrying
    for 15 s while no gate of that name waits yet (or, with ``expect_error``, stopping at the
    first refusal)."""

    def run() -> None:
        rt = get_runtime()
        deadline = time.time() + 15
        while time.time() < deadline:
            running = rt.meta.list_executions(phase="running", limit=1)
            if running:
                try:
                    send_signal(rt.meta, rt.blobs, rt.types, running[0].id, name, text)
                    return
                except (NotFoundError, InvalidInputError):
                    if expect_error:
                        return
            time.sleep(0.05)

    t = threading.Thread(target=run, daemon=True)
    t.start()
    return t
