"""Where a profiled process's CPU goes, by part of Airfoil (issue 17: store, engine, executor,
attempt runtime, serialisation), from a cProfile file such as ``bench_server.py --profile DIR``
writes (``DIR/engine_threads.prof``: the engine process's threads, thread CPU time).

Each function's own time (``tottime``) is charged to the part of its file (``_parts.py``); a
function outside Airfoil and the named libraries (the standard library, built-ins such as a
socket's ``send`` or ``select.poll``) is charged to its callers' parts in proportion to the
time each caller spent in it, up the call graph. So a ``select.poll`` called by the executor
counts for the executor, psycopg and SQLAlchemy for the store, msgspec and ``json`` for
serialisation. cProfile's own overhead inflates functions that are called often and do
little: read the parts as shares, not as times.

    PYTHONPATH=src python benchmarks/bench_server.py --only throughput --repeat 1 --profile prof
    python benchmarks/profile_parts.py prof/engine_threads.prof [--tasks 4040]
"""

from __future__ import annotations

import argparse
import pstats
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).parent))

from _parts import part_of_builtin, part_of_file

Func = tuple[str, int, str]


def parts(stats: dict[Func, Any]) -> dict[str, float]:
    """Seconds of own time per part (see the module's docstring)."""
    memo: dict[Func, dict[str, float]] = {}

    def mix(func: Func, seen: frozenset[Func]) -> dict[str, float]:
        """The shares of ``func``'s time each part owns."""
        if func in memo:
            return memo[func]
        part = part_of_builtin(func[2]) if func[0] == "~" else part_of_file(func[0])
        if part is not None:
            out = {part: 1.0}
        else:
            callers = stats[func][4] if func in stats else {}
            weights = {c: v[2] + v[3] for c, v in callers.items() if c not in seen}
            total = sum(weights.values())
            out = {}
            for caller, weight in weights.items():
                if weight <= 0 or total <= 0:
                    continue
                for name, share in mix(caller, seen | {func}).items():
                    out[name] = out.get(name, 0.0) + share * weight / total
            if not out:
                out = {"outside Airfoil, no Airfoil caller": 1.0}
        memo[func] = out  # (a cycle's members keep the mix found first: shares, not times)
        return out

    seconds: dict[str, float] = {}
    for func, (_cc, _nc, tottime, _ct, _callers) in stats.items():
        for name, share in mix(func, frozenset()).items():
            seconds[name] = seconds.get(name, 0.0) + tottime * share
    return dict(sorted(seconds.items(), key=lambda kv: -kv[1]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("prof", type=Path, help="a cProfile file (pstats)")
    parser.add_argument("--tasks", type=int, default=None, help="tasks the profile covers")
    args = parser.parse_args()
    if not args.prof.is_file():
        raise SystemExit(f"{args.prof}: no such profile (bench_server.py --profile DIR writes it)")
    stats: dict[Func, Any] = pstats.Stats(str(args.prof)).stats  # type: ignore[attr-defined]
    seconds = parts(stats)
    total = sum(seconds.values()) or 1.0
    print(f"{args.prof}: {total:.2f} s of profiled CPU")
    for name, s in seconds.items():
        per_task = f"  {s * 1e6 / args.tasks:7.1f} us a task" if args.tasks else ""
        print(f"  {name:<36} {s / total:6.1%}{per_task}")


if __name__ == "__main__":
    main()
