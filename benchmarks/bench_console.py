"""Console budget: first paint of an execution page with 10,000 nodes, in Chromium.

An execution of a workflow with ``--width`` (default 9,999) tasks and a reducer is run for
real (``airfoil run``, inline), then served by ``airfoil server start --no-engine``. Each run
opens the execution page in a fresh browser context (no cache) and reads when the graph's
canvas was first painted with every node on it (``performance.now()`` from navigation start,
so it counts the page, the API calls for the execution and its graph, the layout and the
drawing). Budget: median under 2 s.

The first page load after the server starts is reported apart, as *cold* (the server reads
the execution and builds its graph for the first time); the median of the following loads is
*warm*. A second, small execution (``--subs`` subworkflows of three tasks, all drawn open as
boxes) measures the compound layout: the page paints it at once with the flat layout, then
again with boxes when elkjs (in a Web Worker, its script loaded on first use) has laid it
out; both times are reported. A third (``huge``: 880 tasks, 30 subworkflows of three and a
map, about 1,000 nodes) starts with its containers closed: its first paint, and the time from
opening them all at once to the paint with boxes and the item grid (the fast nested layout;
ELK would take seconds at this size), are reported.

    python benchmarks/bench_console.py [--width 9999 --subs 20 --runs 7]

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

    @af.workflow
    def three(x: int) -> int:
        return inc(x=inc(x=inc(x=x)))

    @af.workflow
    def nested(x: int = 0) -> int:
        return total(xs=[three(x=i) for i in range(SUBS)])

    @af.task
    def numbers(n: int) -> list[int]:
        return list(range(n))

    @af.workflow
    def huge(n: int = 60) -> int:
        wide = [inc(x=i) for i in range(880)]
        subs = [three(x=i) for i in range(30)]
        mapped = total(xs=af.map_task(inc)(x=numbers(n=n)))
        return total(xs=[*wide, *subs, mapped])
    """
)


def _first_paints(
    browser: object, page_url: str, runs: int, mark: str = "firstPaintAt"
) -> tuple[float, list[float], int]:
    """(cold, warm samples, nodes painted): seconds from navigation to the first paint (or,
    with ``mark="compoundAt"``, to the first paint with the compound layout's boxes)."""
    samples: list[float] = []
    nodes = 0
    for _ in range(runs + 1):
        ctx = browser.new_context(viewport={"width": 1400, "height": 900})  # type: ignore[attr-defined]
        page = ctx.new_page()
        page.goto(page_url)
        page.wait_for_selector("canvas.graph[data-painted]", timeout=60_000)
        if mark != "firstPaintAt":
            page.wait_for_function(f"() => window.__airfoilGraph.{mark} !== null", timeout=60_000)
        samples.append(page.evaluate(f"() => window.__airfoilGraph.{mark}") / 1000)
        nodes = int(page.get_attribute("canvas.graph", "data-painted") or 0)
        ctx.close()
    return samples[0], samples[1:], nodes


def _boxes_after_opening(browser: object, page_url: str, runs: int) -> tuple[float, list[float]]:
    """(cold, warm samples): seconds from opening every container of a big graph at once (its
    outline's expand buttons, one click each) to the paint with the boxes and item grids."""
    samples: list[float] = []
    for _ in range(runs + 1):
        ctx = browser.new_context(viewport={"width": 1400, "height": 900})  # type: ignore[attr-defined]
        page = ctx.new_page()
        page.goto(page_url)
        page.wait_for_selector("canvas.graph[data-painted]", timeout=60_000)
        page.wait_for_selector("nav[aria-label='Graph nodes']", state="attached")
        took = page.evaluate(
            """() => new Promise((done) => {
                const g = window.__airfoilGraph;
                const t0 = performance.now();
                const nav = "nav[aria-label='Graph nodes']";
                document.querySelectorAll(nav + " button[aria-expanded=false]")
                    .forEach((b) => b.click());
                const wait = () => g.compoundAt !== null ? done(g.compoundAt - t0)
                    : requestAnimationFrame(wait);
                wait();
            })"""
        )
        samples.append(took / 1000)
        ctx.close()
    return samples[0], samples[1:]


def _report(what: str, cold: float, warm: list[float], budget: float | None) -> None:
    med = statistics.median(warm)
    verdict = (
        ""
        if budget is None
        else f"; budget {budget * 1000:.0f} ms: "
        + ("ok" if med < budget and cold < budget else "OVER")
    )
    print(
        f"{what}: cold {cold * 1000:.0f} ms, warm median {med * 1000:.0f} ms "
        f"(spread {min(warm) * 1000:.0f}-{max(warm) * 1000:.0f}, n={len(warm)}{verdict})"
    )


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--width", type=int, default=9_999)
    ap.add_argument("--subs", type=int, default=20)
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
        flow = FLOW.replace("WIDTH", str(args.width)).replace("SUBS", str(args.subs))
        (tmp / "flow.py").write_text(flow)
        env = dict(os.environ, AIRFOIL_HOME=str(tmp / "home"))
        for wf in ("nested", "wide", "huge"):
            t0 = time.perf_counter()
            ran = subprocess.run(
                [sys.executable, "-m", "airfoil.cli", "run", "--json", "flow.py", wf],
                cwd=tmp,
                env=env,
                capture_output=True,
                text=True,
            )
            if ran.returncode != 0:
                raise SystemExit(ran.stderr)
            print(f"ran {wf} in {time.perf_counter() - t0:.1f} s")
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
            by_wf = {e["workflow"].rpartition(".")[2]: e["id"] for e in listed["items"]}
            base = f"{url}/projects/default/executions"
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
                    wide = _first_paints(browser, f"{base}/{by_wf['wide']}", args.runs)
                    nested = _first_paints(browser, f"{base}/{by_wf['nested']}", args.runs)
                    boxed = _first_paints(
                        browser, f"{base}/{by_wf['nested']}", args.runs, "compoundAt"
                    )
                    huge = _first_paints(browser, f"{base}/{by_wf['huge']}", args.runs)
                    opened = _boxes_after_opening(browser, f"{base}/{by_wf['huge']}", args.runs)
                finally:
                    browser.close()
        finally:
            proc.send_signal(signal.SIGTERM)
            proc.wait(20)
    _report(f"console first paint, flat graph of {wide[2]} nodes", wide[0], wide[1], 2.0)
    _report(f"console first paint, compound graph of {nested[2]} nodes", nested[0], nested[1], None)
    _report("  ... until its boxes (elkjs layout) are drawn", boxed[0], boxed[1], None)
    _report(
        f"console first paint, graph of {huge[2]} nodes (containers start closed)",
        huge[0],
        huge[1],
        2.0,
    )
    _report(
        "  ... opening its 30 subworkflows and its map at once, until the boxes and the item "
        "grid (fast nested layout) are drawn",
        opened[0],
        opened[1],
        None,
    )


if __name__ == "__main__":
    main()
