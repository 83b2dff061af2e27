"""The process's shared Ray connection (``airfoil.executors._ray_connection``) against a real
local Ray, in a fresh process (the session's Ray of the other tests would be joined instead)."""

from __future__ import annotations

import subprocess
import sys

from _ray_cluster import needs_ray

pytestmark = needs_ray


# Ray started from a thread that then ends (as a server's supervisor or request thread does):
# the local head's processes get a parent-death signal bound to the starting *thread*, so
# they were killed when it returned (a deployment on Ray Serve lost its cluster at once).
SCRIPT = """
import os, threading, time
from airfoil.executors._ray_connection import CONNECTION

box = {}
t = threading.Thread(target=lambda: box.update(ray=CONNECTION.acquire(None, 1)))
t.start()
t.join()
ray = box["ray"]
# The kernel sends the parent-death signal as the thread exits: once the thread is gone from
# /proc, the head's processes have been sent it (and are gone a moment later).
while os.path.exists(f"/proc/self/task/{t.native_id}"):
    time.sleep(0.01)
time.sleep(0.5)
square = ray.remote(lambda x: x * x)
print("answer", ray.get(square.remote(7), timeout=60))
CONNECTION.release()
print("released", ray.is_initialized())
"""


def test_a_local_ray_started_from_a_thread_outlives_the_thread() -> None:
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT], capture_output=True, text=True, timeout=180
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert "answer 49" in done.stdout and "released False" in done.stdout
