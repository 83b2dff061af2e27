"""The process's shared Ray connection (``airfoil.executors._ray_connection``) against a real
local Ray, in a fresh process (the session's Ray of the other tests would be joined instead)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from typing import Any

from _ray_cluster import needs_ray

pytestmark = needs_ray


# One fresh process (a local Ray starts in seconds) proves two things of a local Ray (no
# address), started the way a server starts it:
#
# - Started from a thread that then ends (as a server's supervisor or request thread does):
#   the local head's processes get a parent-death signal bound to the starting *thread*, so
#   they were killed when it returned (a deployment on Ray Serve lost its cluster at once).
# - Its own beside a cluster someone started on this machine with `ray start --head`, which
#   names itself in $RAY_TMPDIR/ray/ray_current_cluster; Ray's `ray.init()` without an address
#   joins it. A local Ray of Airfoil's (no --ray-address) must be its own: joining refused the
#   CPUs it asks for (ConfigError "could not start or join a local Ray") or would run on
#   someone else's cluster.
SCRIPT = """
import os, threading, time
from airfoil.executors._ray_connection import CONNECTION

box = {}
t = threading.Thread(target=lambda: box.update(ray=CONNECTION.acquire(None, 1)))
t.start()
t.join()
ray = box["ray"]
print("gcs", ray.get_runtime_context().gcs_address)
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


def test_a_local_ray_started_from_a_thread_outlives_it_and_is_its_own_beside_a_cluster(
    ray_head: Any,
) -> None:
    tmp = tempfile.mkdtemp(prefix="af-ray-")  # short: Ray's socket paths must fit
    try:
        os.makedirs(os.path.join(tmp, "ray"))
        with open(os.path.join(tmp, "ray", "ray_current_cluster"), "w") as f:
            f.write(ray_head.address)  # what `ray start --head` leaves for later ray.init()s
        env = {**os.environ, "RAY_TMPDIR": tmp}
        env.pop("RAY_ADDRESS", None)
        done = subprocess.run(
            [sys.executable, "-c", SCRIPT], capture_output=True, text=True, timeout=180, env=env
        )
        assert done.returncode == 0, done.stderr[-3000:]
        assert "answer 49" in done.stdout and "released False" in done.stdout
        gcs = done.stdout.split("gcs ", 1)[1].split()[0]
        assert gcs != ray_head.address  # its own Ray, not the head's
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
