"""Console budget: first paint of an execution page with 10,000 nodes, in Chromium.

An execution of a workflow with ``--width`` (default 9,999) tasks and a reducer is run for
real (``airfoil run``, inline), then served by ``airfoil server start --no-engine``. Each run
opens the execution page in a fresh browser context (no cache) and reads when the graph's
canvas was first painted with every node on it (``performance.now()`` from navigation start,
so it counts the page, the API calls for the execution and its graph, the layout and the
drawing). Budget: median under 2 s.

    python benchmarks/bench_console.py [--width 9999 --runs 7]

Needs the built console (``make install``) and Debian's ``chromium``.
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

import httpx

FLOW = textwrap.dedent(
    """
    import airfoil as af

    @af.task
    def inc(x: int) -> int:
        return x + 1

    @af.task
    def total(xs: list[int]) -> int:
        return sum(xs)

    @af.workflow
    def wide(x: int = 0) -> int:
        return total(xs=[inc(x=i) for i in range(WIDTH)])
    """
)


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--width", type=int, default=9_999)
    ap.add_argument("--runs", type=int, default=7)
    args = ap.parse_args()
    exe = shutil.which("chromium")
    if exe is None:
        raise SystemExit("bench_console needs Debian's chromium (make install installs it)")
    static = Path(__file__).resolve().parents[1] / "src/airfoil/server/static/index.html"
    if not static.exists():
        raise SystemExit("the console is not built: run `make install`")
    from playwright.sync_api import sync_playwright

    with tempfile.TemporaryDirectory() as tmp_s:
        tmp = Path(tmp_s)
        (tmp / "flow.py").write_text(FLOW.replace("WIDTH", str(args.width)))
        env = dict(os.environ, AIRFOIL_HOME=str(tmp / "home"))
        t0 = time.perf_counter()
        ran = subprocess.run(
            [sys.executable, "-m", "airfoil.cli", "run", "--json", "flow.py", "wide"],
            cwd=tmp,
            env=env,
            capture_output=True,
            text=True,
        )
        if ran.returncode != 0:
            raise SystemExit(ran.stderr)
        print(f"ran an execution of {args.width + 1} nodes in {time.perf_counter() - t0:.1f} s")
        port = _port()
        url = f"http://127.0.0.1:{port}"
        serve = ["server", "start", "--port", str(port), "--no-engine"]
        proc = subprocess.Popen(
            [sys.executable, "-m", "airfoil.cli", *serve],
            cwd=tmp,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            for _ in range(600):
                try:
                    if httpx.get(url + "/readyz", timeout=2).status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                time.sleep(0.1)
            listed = httpx.get(url + "/api/v1/projects/default/executions").json()
            ex = listed["items"][0]["id"]
            page_url = f"{url}/projects/default/executions/{ex}"
            samples: list[float] = []
            with sync_playwright() as p:
                browser = p.chromium.launch(
                    executable_path=exe,
                    args=[
                        "--headless",
                        "--no-sandbox",
                        "--disable-gpu",
                        "--disable-background-networking",
                    ],
                )
                try:
                    for i in range(args.runs + 1):
                        ctx = browser.new_context(viewport={"width": 1400, "height": 900})
                        page = ctx.new_page()
                        page.goto(page_url)
                        page.wait_for_selector("canvas.graph[data-painted]", timeout=60_000)
                        painted = page.evaluate("() => window.__airfoilGraph.firstPaintAt")
                        nodes = int(page.get_attribute("canvas.graph", "data-painted") or 0)
                        ctx.close()
                        if i == 0:
                            continue  # warm-up: the server's first read of the execution
                        samples.append(painted / 1000)
                finally:
                    browser.close()
        finally:
            proc.send_signal(signal.SIGTERM)
            proc.wait(20)
    med = statistics.median(samples)
    print(
        f"console first paint, execution page of {nodes} nodes: median {med * 1000:.0f} ms "
        f"(spread {min(samples) * 1000:.0f}-{max(samples) * 1000:.0f}, n={len(samples)}; "
        f"budget 2000 ms: {'ok' if med < 2.0 else 'OVER'})"
    )


if __name__ == "__main__":
    main()
