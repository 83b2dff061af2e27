"""The ``Host`` check every request of an open server (and of a model service) makes: the
CPU time of one check, parsed each time (``_host_allowed``, the rule as it was) and through
the cache (``host_allowed``), for the Hosts a loopback client sends and a foreign one.
CPU time (``time.process_time``), the best of ``--repeat`` rounds of ``--number`` calls.

    python benchmarks/bench_host_rule.py
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable

from airfoil.wire._hosts import _host_allowed, host_allowed

HOSTS = ("127.0.0.1:8000", "localhost:8000", "[::1]:8000", "evil.example:8000")
ALLOWED = (".corp.test", "airfoil.test")


def _best(
    check: Callable[[str, tuple[str, ...]], bool], host: str, number: int, repeat: int
) -> float:
    best = float("inf")
    for _ in range(repeat):
        start = time.process_time()
        for _ in range(number):
            check(host, ALLOWED)
        best = min(best, time.process_time() - start)
    return best / number * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--number", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    print(f"{'Host':<20} {'parsed (us)':>12} {'cached (us)':>12}")
    for host in HOSTS:
        parsed = _best(_host_allowed, host, args.number, args.repeat)
        cached = _best(host_allowed, host, args.number, args.repeat)
        print(f"{host:<20} {parsed:>12.3f} {cached:>12.3f}")


if __name__ == "__main__":
    main()
