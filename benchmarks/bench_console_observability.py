"""Console budgets of issue 15, in Chromium: a metric chart of 100,000 points and the
failures page over 10,000 failed attempts, each painted within 1 s warm and 2 s cold.

A task logging ``--points`` (default 100,000) values of ``loss`` is run for real
(``airfoil run``, inline); ``--failures`` (default 10,000) failed attempts in 40 groups are
written to the same store (``put_failure``, over 100 executions). ``airfoil server start
--no-engine`` serves them. Each load opens the page in a fresh browser context (no cache) and
reads when the chart was first drawn (uPlot's draw hook) / the groups table was first on the
page (``performance.now()`` from navigation start: page, API calls, decoding, drawing). The
first load after the server starts is *cold*; the median of the following is *warm*.

    python benchmarks/bench_console_observability.py [--points 100000 --failures 10000 --runs 5]
"""

from __future__ import annotations

import argparse
import os
import shutil
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
    import math

    import airfoil as af

    @af.task
    def train(n: int) -> float:
        ctx = af.current_context()
        for i in range(n):
            ctx.log_metric("loss", math.exp(-i / 20000) + 0.01 * math.sin(i / 50))
        return 0.0
    """
)


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _loads(browser: object, url: str, selector: str, runs: int) -> tuple[float, list[float]]:
    samples = []
    for _ in range(runs + 1):
        ctx = browser.new_context(viewport={"width": 1400, "height": 900})  # type: ignore[attr-defined]
        page = ctx.new_page()
        page.goto(url)
        page.wait_for_selector(f"{selector}[data-painted-at]", timeout=60_000)
        samples.append(float(page.get_attribute(selector, "data-painted-at")) / 1000)
        ctx.close()
    return samples[0], samples[1:]


def _fill_failures(home: Path, n: int) -> None:
    from airfoil.core.records import StoreBatch
    from airfoil.store.sql import SqlMetaStore
    from airfoil.testing.observability_conformance import make_failure
    from airfoil.testing.records import make_execution

    store = SqlMetaStore(f"sqlite:///{home}/airfoil.db")
    try:
        for e in range(100):
            store.write(StoreBatch(execution=make_execution(f"fx{e}", project="default")))
        for i in range(n):
            store.put_failure(
                make_failure(
                    f"fx{i % 100}",
                    f"n{i // 100}",
                    1,
                    at=time.time() - i,
                    message=f"row {i} of /data/p{i}.csv is bad",
                    func=f"f{i % 40}",
                )
            )
    finally:
        store.close()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--points", type=int, default=100_000)
    ap.add_argument("--failures", type=int, default=10_000)
    ap.add_argument("--runs", type=int, default=5)
    args = ap.parse_args()
    if shutil.which("chromium") is None:
        raise SystemExit("needs Debian's chromium (make install installs it)")
    from playwright.sync_api import sync_playwright

    with tempfile.TemporaryDirectory() as tmp_s:
        tmp = Path(tmp_s)
        (tmp / "flow.py").write_text(FLOW)
        env = dict(os.environ, AIRFOIL_HOME=str(tmp / "home"))
        run = [sys.executable, "-m", "airfoil.cli", "run", "--name", "big", "flow.py", "train"]
        ran = subprocess.run(
            [*run, "--n", str(args.points)], cwd=tmp, env=env, capture_output=True, text=True
        )
        if ran.returncode != 0:
            raise SystemExit(ran.stderr)
        _fill_failures(tmp / "home", args.failures)
        port = _port()
        url = f"http://127.0.0.1:{port}"
        serve = [sys.executable, "-m", "airfoil.cli", "server", "start", "--port", str(port)]
        proc = subprocess.Popen(
            [*serve, "--no-engine"],
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
            with sync_playwright() as p:
                browser = p.chromium.launch(
                    executable_path=shutil.which("chromium"),
                    args=["--headless", "--no-sandbox", "--disable-gpu"],
                )
                try:
                    chart = f"{url}/projects/default/metrics?runs=big&name=loss"
                    cold, warm = _loads(browser, chart, ".metric-chart", args.runs)
                    print(
                        f"metric chart of {args.points:,} points: cold {cold:.3f} s, warm median "
                        f"{statistics.median(warm):.3f} s (spread {min(warm):.3f}-{max(warm):.3f},"
                        f" n={len(warm)})  [budget warm <= 1 s, cold <= 2 s]"
                    )
                    page = f"{url}/projects/default/failures"
                    cold, warm = _loads(browser, page, "table.failure-groups", args.runs)
                    print(
                        f"failures page over {args.failures:,} failures: cold {cold:.3f} s, warm "
                        f"median {statistics.median(warm):.3f} s (spread {min(warm):.3f}-"
                        f"{max(warm):.3f}, n={len(warm)})  [budget warm <= 1 s, cold <= 2 s]"
                    )
                finally:
                    browser.close()
        finally:
            proc.terminate()
            proc.wait(20)


if __name__ == "__main__":
    main()
