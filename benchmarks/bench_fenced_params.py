"""The Python cost of one PostgreSQL fenced batch's parameters (``_rows.fenced_params``).

Builds the server benchmark's average batch (``--nodes``, ``--attempts``, ``--events``: 14,
10 and 20, what ``bench_server.py --only throughput`` writes a statement) and prints the
microseconds ``fenced_params`` takes on it (min of ``--repeat`` timings). No database is
needed. Compare trees by running it with each tree's ``src`` first on ``PYTHONPATH``. On a
loaded host, count instructions instead (times move with the load; counts do not): run it
under ``valgrind --tool=callgrind`` with ``--iterations N --no-timing`` and with
``--iterations 0 --no-timing``, and divide the difference of the two "Collected" counts by N.

    PYTHONPATH=src python benchmarks/bench_fenced_params.py
"""

from __future__ import annotations

import argparse
import timeit

from msgspec.structs import replace

from airfoil.core.records import AttemptRecord, EventRecord, NodeRecord, StoreBatch
from airfoil.store.sql._rows import fenced_params

EID = "ex-0123456789abcdef0123"


def average_batch(nodes: int, attempts: int, events: int) -> StoreBatch:
    """A batch shaped like the throughput benchmark's: trivial tasks' ends and starts."""
    node = NodeRecord(EID, "t", "succeeded", task="bench.noop", attempts=1, ended_at=3.0)
    node = replace(node, queued_at=1.0, started_at=2.0)
    attempt = AttemptRecord(EID, "t", 1, "succeeded", 2.0, 3.0, worker="pid-1234")
    attempt = replace(attempt, log_uri="logs/x/y/1")
    event = EventRecord(EID, 100, 3.0, "node", "running", "admitted", cause_id=50)
    return StoreBatch(
        nodes=[replace(node, node_id=f"t{i}") for i in range(nodes)],
        attempts=[replace(attempt, node_id=f"t{i}") for i in range(attempts)],
        events=[
            replace(event, seq=100 + i, node_id=f"t{i}", cause_id=50 + i) for i in range(events)
        ],
        lease=(EID, "owner-1"),
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--nodes", type=int, default=14)
    parser.add_argument("--attempts", type=int, default=10)
    parser.add_argument("--events", type=int, default=20)
    parser.add_argument("--iterations", type=int, default=5000)
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--tasks-a-batch", type=float, default=5.1)
    parser.add_argument("--no-timing", action="store_true", help="only run (for callgrind)")
    args = parser.parse_args()
    batch = average_batch(args.nodes, args.attempts, args.events)

    def stored(_ex: object) -> bool:
        return True

    def run() -> None:
        fenced_params(batch, stored)

    run()  # the first call's one-time work (Struct caches, imports) is not counted
    if args.no_timing:
        for _ in range(args.iterations):
            run()
        return
    best = min(timeit.repeat(run, number=args.iterations, repeat=args.repeat)) / args.iterations
    print(
        f"fenced_params: {best * 1e6:.1f} us a batch of {args.nodes} nodes, {args.attempts} "
        f"attempts, {args.events} events; {best * 1e6 / args.tasks_a_batch:.2f} us a task at "
        f"{args.tasks_a_batch} tasks a batch"
    )


if __name__ == "__main__":
    main()
