"""Console budgets of issue 15, in Chromium: a metric chart of 100,000 points and the
failures page over 10,000 failed attempts, each painted within 1 s warm and 2 s cold; and
the Runs page (experiment table) of 1,000 runs (``--rows``), each with two inputs, a
1,000-point and a 10-point metric series, sorted by ``loss:min`` (no budget was set for it:
measured against the same 1 s warm / 2 s cold).

A task logging ``--points`` (default 100,000) values of ``loss`` is run for real
(``airfoil run``, inline); ``--failures`` (default 10,000) failed attempts in 40 groups are
written to the same store (``put_failure``, over 100 executions). ``airfoil server start
--no-engine`` serves them. Each load opens the page in a fresh browser context (no cache) and
reads when the chart was first drawn (uPlot's draw hook) / the groups table was first on the
page (``performance.now()`` from navigation start: page, API calls, decoding, drawing). The
first load after the server starts is *cold*; the median of the following is *warm*. For the
Runs page it also reports how many rows are in the page after the first paint (past 200 rows
only those on screen are drawn) and the time from scrolling to the end to the last row drawn.

    python benchmarks/bench_console_observability.py [--points 100000 --failures 10000 --runs 5]
        [--rows 1000] [--only chart,failures,runs]
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


#: When the last API answer of the page arrived (ms since navigation).
_API_DONE = (
    "Math.max(0, ...performance.getEntriesByType('resource')"
    ".filter(e => e.name.includes('/api/')).map(e => e.responseEnd))"
)


def _loads(
    browser: object, url: str, selector: str, runs: int, api: list[float] | None = None
) -> tuple[float, list[float]]:
    """Paint times of ``runs + 1`` loads (s); ``api`` gets when the last API answer came."""
    samples = []
    for _ in range(runs + 1):
        ctx = browser.new_context(viewport={"width": 1400, "height": 900})  # type: ignore[attr-defined]
        page = ctx.new_page()
        page.goto(url)
        page.wait_for_selector(f"{selector}[data-painted-at]", timeout=60_000)
        samples.append(float(page.get_attribute(selector, "data-painted-at")) / 1000)
        if api is not None:
            api.append(float(page.evaluate(_API_DONE)) / 1000)
        ctx.close()
    return samples[0], samples[1:]


#: Scrolls the Runs table's page to its end and resolves with the ms until the last row is
#: on the page (drawn at once without windowing; drawn by the window's scroll handler with).
_SCROLL_TO_END = """async () => {
    const ids = () => [...document.querySelectorAll('table.runs-table tr[data-execution]')];
    const total = Number(document.querySelector('.runs-count').dataset.rows);
    const t0 = performance.now();
    window.scrollTo(0, document.documentElement.scrollHeight);
    for (;;) {
        const row = document.querySelector(`table.runs-table tr[data-row="${total - 1}"]`)
            ?? (ids().length === total ? ids()[total - 1] : null);
        if (row && row.getBoundingClientRect().bottom <= window.innerHeight + 1) break;
        await new Promise((r) => requestAnimationFrame(r));
    }
    await new Promise((r) => requestAnimationFrame(r));
    return performance.now() - t0;
}"""


def _runs_table(browser: object, url: str) -> tuple[int, float]:
    """Rows in the DOM after the Runs page's first paint, and the time (s) to scroll to its
    last row (warm: a second load in one context)."""
    ctx = browser.new_context(viewport={"width": 1400, "height": 900})  # type: ignore[attr-defined]
    page = ctx.new_page()
    page.goto(url)
    page.wait_for_selector("table.runs-table[data-painted-at]", timeout=60_000)
    page.reload()
    page.wait_for_selector("table.runs-table[data-painted-at]", timeout=60_000)
    drawn = int(page.evaluate("() => document.querySelectorAll('tr[data-execution]').length"))
    took = float(page.evaluate(_SCROLL_TO_END)) / 1000
    ctx.close()
    return drawn, took


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


def _fill_runs(home: Path, n: int) -> None:
    """``n`` succeeded runs of ``w.train`` (inputs lr, steps; series loss of 1,000 points,
    accuracy of 10), as a real run stores them."""
    import json
    import math

    import msgspec

    from airfoil.core.metrics import MetricSeries
    from airfoil.core.records import StoreBatch, Value
    from airfoil.store.sql import SqlMetaStore
    from airfoil.testing.records import make_execution

    def _json(v: object) -> Value:
        data = json.dumps(v).encode()
        return Value(hash=f"h{v}", format="json", inline=data, size=len(data))

    store = SqlMetaStore(f"sqlite:///{home}/airfoil.db")
    now = time.time() - n
    try:
        for i in range(n):
            eid = f"rx{i:05d}"
            rec = make_execution(eid, created_at=now + i, project="default", workflow="w.train")
            lr = round(0.001 * (1 + i % 97), 4)
            rec = msgspec.structs.replace(
                rec, phase="succeeded", inputs={"lr": _json(lr), "steps": _json(1000)}
            )
            store.write(StoreBatch(execution=rec))
            loss: list[float | None] = [
                math.exp(-lr * k) + 0.01 * math.sin(k + i) for k in range(1000)
            ]
            acc: list[float | None] = [1 - (v or 0.0) for v in loss[::100]]

            def series(name: str, values: list[float | None], span: float) -> MetricSeries:
                n_points = len(values)
                return MetricSeries(
                    execution_id=eid,  # noqa: B023 (called at once)
                    node_id="n0",
                    attempt=1,
                    task="w.step",
                    name=name,
                    steps=list(range(n_points)),
                    values=values,
                    times=[now + i + k * span / n_points for k in range(n_points)],  # noqa: B023
                )

            store.put_metric_series([series("loss", loss, 1.0), series("accuracy", acc, 1.0)])
    finally:
        store.close()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--points", type=int, default=100_000)
    ap.add_argument("--failures", type=int, default=10_000)
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--rows", type=int, default=1000, help="runs in the Runs page's table")
    ap.add_argument("--only", default="chart,failures,runs", help="which pages to measure")
    args = ap.parse_args()
    only = set(args.only.split(","))
    if shutil.which("chromium") is None:
        raise SystemExit("needs Debian's chromium (make install installs it)")
    from playwright.sync_api import sync_playwright

    with tempfile.TemporaryDirectory() as tmp_s:
        tmp = Path(tmp_s)
        (tmp / "flow.py").write_text(FLOW)
        env = dict(os.environ, AIRFOIL_HOME=str(tmp / "home"))
        run = [sys.executable, "-m", "airfoil.cli", "run", "--name", "big", "flow.py", "train"]
        ran = subprocess.run(
            [*run, "--n", str(args.points if "chart" in only else 1)],
            cwd=tmp,
            env=env,
            capture_output=True,
            text=True,
        )
        if ran.returncode != 0:
            raise SystemExit(ran.stderr)
        if "failures" in only:
            _fill_failures(tmp / "home", args.failures)
        if "runs" in only:
            _fill_runs(tmp / "home", args.rows)
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
                    pages = [
                        ("chart", f"metric chart of {args.points:,} points",
                         f"{url}/projects/default/metrics?runs=big&name=loss", ".metric-chart"),
                        ("failures", f"failures page over {args.failures:,} failures",
                         f"{url}/projects/default/failures", "table.failure-groups"),
                        ("runs", f"runs page of {args.rows:,} runs (2 metrics, sorted)",
                         f"{url}/projects/default/runs?workflow=w.train&metrics=loss,accuracy"
                         f"&last={args.rows}&sort=loss:min", "table.runs-table"),
                    ]  # fmt: skip
                    if "runs" in only:  # the API's share of the page: the same request
                        api = (
                            f"{url}/api/v1/projects/default/workflows/w.train/runs?last="
                            f"{args.rows}&sort=loss:min&metric=loss&metric=accuracy"
                        )
                        took = []
                        for _ in range(args.runs + 1):
                            t0 = time.perf_counter()
                            httpx.get(api, timeout=60).raise_for_status()
                            took.append(time.perf_counter() - t0)
                        print(
                            f"runs API for {args.rows:,} runs: first {took[0]:.3f} s, then median "
                            f"{statistics.median(took[1:]):.3f} s (n={len(took) - 1})"
                        )
                    for key, what, page, selector in pages:
                        if key not in only:
                            continue
                        api_at: list[float] = []
                        cold, warm = _loads(browser, page, selector, args.runs, api_at)
                        print(
                            f"{what}: cold {cold:.3f} s, warm median "
                            f"{statistics.median(warm):.3f} s (spread {min(warm):.3f}-"
                            f"{max(warm):.3f}, n={len(warm)})  [budget warm <= 1 s, cold <= 2 s]"
                            f"; its API answers in by {api_at[0]:.3f} s cold, "
                            f"{statistics.median(api_at[1:]):.3f} s warm"
                        )
                        if key == "runs":
                            scrolls = [_runs_table(browser, page) for _ in range(args.runs)]
                            print(
                                f"{what}: {scrolls[0][0]} rows in the page after the first "
                                f"paint; scroll to the last row: median "
                                f"{statistics.median(t for _, t in scrolls):.3f} s "
                                f"(n={len(scrolls)})"
                            )
                finally:
                    browser.close()
        finally:
            proc.terminate()
            proc.wait(20)


if __name__ == "__main__":
    main()
