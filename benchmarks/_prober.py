"""The API prober of the server benchmarks: the loop a prober process (or thread) runs.

It lives in a module of its own, not in the benchmark script, so that a spawned prober
process can import it whatever ``__main__`` is: under ``python -m cProfile
benchmarks/bench_server.py`` the script is not ``__main__``, and a function of it could not
be pickled for the child (``attribute lookup _probe_loop on __main__ failed``)."""

from __future__ import annotations

import time
from typing import Any

import httpx

__all__ = ["probe_loop"]


def probe_loop(
    base: str,
    every_s: float,
    target: Any,
    ready: Any,
    stop: Any,
    out: Any,
    tag: str,
) -> None:
    """The prober's loop: GET the execution list and (every other probe, once ``target``
    names one) an execution's detail, one every ``every_s``; puts its probes (number, time
    sent, latency) on ``out`` when ``stop`` is set (its CPU is read from its process, by pid)."""
    probes: list[tuple[str, float, float]] = []
    with httpx.Client(timeout=30) as http:
        ready.set()  # imported and its client built: the round may begin
        turn = 0
        while not stop.is_set():
            current = target.value.decode() if hasattr(target, "value") else target()
            url = base if not current or turn % 2 else f"{base}/{current}"
            probe, sent = f"{tag}-{turn}", time.time()
            t0 = time.perf_counter()
            r = http.get(url, headers={"x-probe": probe})
            probes.append((probe, sent, time.perf_counter() - t0))
            assert r.status_code == 200, r.text
            turn += 1
            stop.wait(every_s)
    out.put(probes)
