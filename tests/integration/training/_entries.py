"""Gang entries for the launcher tests (module-level: pickled by reference)."""

from __future__ import annotations

import os
import time


def echo_rank(payload: bytes) -> bytes:
    print(f"rank {os.environ['RANK']} says {payload.decode()}", flush=True)
    return f"{os.environ['RANK']}/{os.environ['WORLD_SIZE']}:{payload.decode()}".encode()


def rank_1_raises(payload: bytes) -> bytes:
    if os.environ["RANK"] == "1":
        raise RuntimeError("rank 1 broke")
    time.sleep(60)
    return b""


def record_pid_and_wait(payload: bytes) -> bytes:
    with open(os.path.join(payload.decode(), f"pid-{os.environ['RANK']}"), "w") as f:
        f.write(str(os.getpid()))
    time.sleep(120)
    return b""


def rank_0_raises_as_rank_1_dies(payload: bytes) -> bytes:
    """What a killed rank looks like to its peer: the peer's collective raises at once, the
    death itself is seen a moment later."""
    if os.environ["RANK"] == "0":
        raise RuntimeError("connection closed by peer")
    time.sleep(0.3)
    os.kill(os.getpid(), 9)
    return b""


def rank_0_listens(payload: bytes) -> bytes:
    """Rank 0 binds the rendezvous port as a collective's store does (no SO_REUSEADDR)."""
    import socket

    if os.environ["RANK"] == "0":
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
            s.bind((os.environ["MASTER_ADDR"], int(os.environ["MASTER_PORT"])))
            s.listen()
    return os.environ["MASTER_PORT"].encode()


def grandchild_then_rank_1_raises(payload: bytes) -> bytes:
    """Rank 0 starts a child that starts a grandchild in a session of its own (its pid in
    ``<payload>/grandchild``) and waits; rank 1 raises once the grandchild is up."""
    import subprocess
    import sys

    pid_file = os.path.join(payload.decode(), "grandchild")
    if os.environ["RANK"] == "0":
        script = (
            "import subprocess, sys, time\n"
            "p = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(60)'],"
            " start_new_session=True)\n"
            "open(sys.argv[1] + '.tmp', 'w').write(str(p.pid))\n"
            "import os; os.replace(sys.argv[1] + '.tmp', sys.argv[1])\n"
            "time.sleep(60)\n"
        )
        subprocess.Popen([sys.executable, "-c", script, pid_file])
        time.sleep(60)
        return b""
    end = time.monotonic() + 30
    while not os.path.exists(pid_file) and time.monotonic() < end:
        time.sleep(0.05)
    raise RuntimeError("rank 1 broke")
