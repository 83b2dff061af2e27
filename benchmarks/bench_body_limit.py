"""An oversized JSON body sent with no API key: the server's peak memory and the answer.

A server (API only, SQLite, one key created so it is closed) runs in a fresh process per
tree; a client streams ``--mib`` MiB of chunked JSON to ``POST .../executions`` with no key.
Printed per tree: the answer, the seconds to it and the growth of the server process's peak
RSS (``ru_maxrss``). ``--baseline DIR`` (a folder holding the baseline's ``src/``, e.g.
``git archive main src``) runs the same beside this tree, alternated ``--runs`` times.

    git archive main src | tar -x -C /tmp/base
    python benchmarks/bench_body_limit.py --baseline /tmp/base
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile

_SERVER = r"""
import json, resource, socket, sys, tempfile, threading, time
import httpx, uvicorn
from airfoil.server import ServerConfig, create_app

mib = int(sys.argv[1])
kept = tempfile.TemporaryDirectory(prefix="bench-body-", ignore_cleanup_errors=True)
home = kept.name  # removed at exit
app = create_app(ServerConfig(home=home, run_engine=False))
with socket.socket() as s:
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="error"))
threading.Thread(target=server.run, daemon=True).start()
while not server.started:
    time.sleep(0.02)
app.state.deps.registry.create_key("alpha", "viewer")
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss

def chunks():
    yield b'{"entity": "'
    for _ in range(mib):
        yield b"x" * 2**20
    yield b'"}'

url = f"http://127.0.0.1:{port}/api/v1/projects/alpha/domains/development/executions"
t = time.perf_counter()
r = httpx.post(url, content=chunks(), headers={"Content-Type": "application/json"}, timeout=600)
took = time.perf_counter() - t
after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
server.should_exit = True
print(json.dumps({"status": r.status_code, "s": took, "rss_mib": (after - before) / 1024}))
"""


def _run(src: str, mib: int) -> dict[str, float]:
    env = {**os.environ, "PYTHONPATH": src}
    with tempfile.TemporaryDirectory() as cwd:
        out = subprocess.run(
            [sys.executable, "-c", _SERVER, str(mib)],
            env=env,
            cwd=cwd,
            capture_output=True,
            text=True,
            check=True,
        ).stdout
    return dict(json.loads(out.strip().splitlines()[-1]))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--baseline", help="a folder holding the baseline's src/")
    parser.add_argument("--mib", type=int, default=256)
    parser.add_argument("--runs", type=int, default=1)
    args = parser.parse_args()
    trees = {"this": os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "src")}
    if args.baseline:
        trees["baseline"] = os.path.join(args.baseline, "src")
    for i in range(args.runs):
        for name, src in trees.items():  # alternated
            got = _run(src, args.mib)
            print(
                f"run {i + 1} {name}: {args.mib} MiB with no key -> {got['status']:.0f} in "
                f"{got['s']:.2f} s, server peak RSS +{got['rss_mib']:.0f} MiB "
                f"(load {os.getloadavg()[0]:.1f})"
            )


if __name__ == "__main__":
    main()
