"""A hash of chained scheduler decisions, to show that a speed-up changes no decision.

On ``bench_scheduler``'s steady state (10,000 waiting, 1,000 running, 128 nodes) of each
seed, every policy named decides four times in a row; each decision is applied, then the
running item expected to end first finishes and the clock moves one second, before the
next. Each decision's starts, preemptions, reasons and wake-up time go into one SHA-256 per
policy and seed. Run it with each tree's ``src`` on ``PYTHONPATH`` and compare the lines::

    PYTHONPATH=src python benchmarks/hash_decisions.py
    PYTHONPATH=src python benchmarks/hash_decisions.py --seeds 0,1,2 airfoil las
    PYTHONPATH=src python benchmarks/hash_decisions.py --fragmented --rounds 20 airfoil

``--fragmented`` starts from ``bench_scheduler.fragmented_state`` instead (seed unused:
one state), where the default moves work in every decision; ``--rounds`` sets how many
decisions are chained (4 by default).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys

from bench_scheduler import fragmented_state, steady_state

from airfoil.scheduler import Decision

DEFAULT = ("airfoil", "las", "fair", "backfill", "fifo-skip", "stretch")


def digest(
    policy: str, seed: int, rounds: int = 4, fragmented: bool = False
) -> tuple[str, list[int]]:
    """The hash of ``rounds`` chained decisions, and how many starts each made."""
    state, now = fragmented_state(policy) if fragmented else steady_state(policy, seed)
    h = hashlib.sha256()
    starts = []
    for _ in range(rounds):
        decision = state.decide(now)
        h.update(encoded(decision))
        starts.append(len(decision.starts))
        state.apply(decision, now)
        if state.running_by_end:
            state.finish(state.running_by_end[0][2], now)
        now += 1.0
    return h.hexdigest()[:16], starts


def encoded(decision: Decision) -> bytes:
    """A decision's starts, preemptions, reasons and wake-up time, as bytes to hash."""
    return json.dumps(
        [
            [[s.item_id, list(s.placement)] for s in decision.starts],
            list(decision.preemptions),
            sorted(decision.reasons.items()),
            decision.wake_at,
        ]
    ).encode()


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("policies", nargs="*", default=list(DEFAULT))
    parser.add_argument("--seeds", default="0,1")
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument("--fragmented", action="store_true")
    args = parser.parse_args(argv[1:])
    seeds = [0] if args.fragmented else [int(s) for s in args.seeds.split(",")]
    for seed in seeds:
        for policy in args.policies:
            value, starts = digest(policy, seed, args.rounds, args.fragmented)
            label = "fragmented" if args.fragmented else f"seed {seed}"
            print(f"{label} {policy:10s} {value}  starts {starts}", flush=True)


if __name__ == "__main__":
    main(sys.argv)
