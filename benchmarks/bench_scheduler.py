"""Scheduler benchmarks: decision latency and trace replay time.

Budgets (issues 5 and 11):

- ``decide()`` with 10,000 waiting items and 1,000 running on 128 nodes: under 10 ms median;
- replaying the Philly week on 8 nodes x 8 GPUs with every policy: under 60 s in total.

Run::

    PYTHONPATH=src python benchmarks/bench_scheduler.py            # both
    PYTHONPATH=src python benchmarks/bench_scheduler.py decide     # only decide()
    PYTHONPATH=src python benchmarks/bench_scheduler.py replay [TRACE]
    PYTHONPATH=src python benchmarks/bench_scheduler.py due-share  # airfoil's cap: CPU time
    PYTHONPATH=src python benchmarks/bench_scheduler.py preempt-ratio  # its victim rule: CPU
    PYTHONPATH=src python benchmarks/bench_scheduler.py enqueue    # submit + withdraw: CPU

Each figure is the median of 5 runs, with the spread (min-max) of those runs. A ``decide``
run is the mean of 20 calls on the same state (a decision changes nothing, so every call
does the same work); the state is a steady one: 1,000 items running, the cluster nearly full,
10,000 waiting across 20 projects in mixed shapes (CPU-only, 1/2/4-GPU, 8-GPU whole-node
workers and gangs of 2 and 4 of them), with reasons explained for every waiting item.
"""

from __future__ import annotations

import os
import random
import statistics
import sys
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path

from airfoil.core.resources import ResourceSpec
from airfoil.scheduler import (
    AirfoilPolicy,
    Node,
    Policy,
    SchedulerState,
    WorkItem,
    decide,
    policy_names,
)

GIB = 2**30
RUNS = 5
CALLS = 20
REPO = Path(__file__).resolve().parent.parent

SHAPES = [  # (cpu, mem GiB, gpu, gang, weight)
    (2.0, 8, 0, 1, 20),
    (4.0, 32, 1, 1, 40),
    (8.0, 64, 2, 1, 15),
    (16.0, 128, 4, 1, 10),
    (32.0, 256, 8, 1, 8),
    (32.0, 256, 8, 2, 5),
    (32.0, 256, 8, 4, 2),
]


def _item(rng: random.Random, i: int, now: float) -> WorkItem:
    cpu, mem, gpu, gang, _ = rng.choices(SHAPES, weights=[s[4] for s in SHAPES])[0]
    return WorkItem(
        id=f"w{i}",
        project=f"p{rng.randrange(20)}",
        resources=ResourceSpec(cpu=cpu, mem=mem * GIB, gpu=gpu),
        gang_size=gang,
        priority=rng.choice((0, 0, 0, 1)),
        interruptible=rng.random() < 0.7,
        submit_time=now - rng.uniform(0, 7200),
        estimate=rng.choice((60.0, 600.0, 3600.0, 36000.0)) * rng.uniform(0.5, 2),
        attained=rng.choice((0.0, 0.0, 5000.0, 50000.0)),
    )


def _cluster(
    policy: str | Policy, seed: int
) -> tuple[random.Random, float, list[Node], SchedulerState]:
    """A seeded generator, the time, 128 empty 8-GPU nodes and a state over them."""
    nodes = [Node(f"n{i}", ResourceSpec(cpu=64.0, mem=512 * GIB, gpu=8)) for i in range(128)]
    return random.Random(seed), 100_000.0, nodes, SchedulerState(nodes, policy=policy)


def steady_state(policy: str | Policy, seed: int = 0) -> tuple[SchedulerState, float]:
    """128 nodes; 1,000 running (125 nodes full, 3 empty); 10,000 waiting across 20 projects."""
    rng, now, nodes, state = _cluster(policy, seed)
    for i in range(1000):
        item = WorkItem(
            id=f"r{i}",
            project=f"p{rng.randrange(20)}",
            resources=ResourceSpec(cpu=8.0, mem=64 * GIB, gpu=1),
            interruptible=rng.random() < 0.7,
            submit_time=now - 20_000,
            estimate=rng.uniform(60, 36_000),
        )
        state.submit(item)
        state.start(item.id, [nodes[i // 8].name], now - rng.uniform(0, 10_000))
    for j in range(10_000):
        state.submit(_item(rng, j, now))
    return state, now


def _runs(fn: Callable[[], object], calls: int) -> list[float]:
    fn()  # warm
    out = []
    for _ in range(RUNS):
        t0 = time.perf_counter()
        for _ in range(calls):
            fn()
        out.append((time.perf_counter() - t0) / calls)
    return out


def _fmt(samples: list[float], unit: float = 1e3, suffix: str = "ms") -> str:
    med = statistics.median(samples)
    return (
        f"median {med * unit:8.2f} {suffix}   spread {min(samples) * unit:.2f}-"
        f"{max(samples) * unit:.2f} {suffix}"
    )


def bench_decide() -> None:
    print("decide(): 10,000 waiting, 1,000 running, 128 nodes (budget: 10 ms median)")
    print("  first: the state as built; next: after applying the first decision")
    for policy in policy_names():
        state, now = steady_state(policy)
        for label in ("first", "next"):
            explain = _runs(partial(state.decide, now), CALLS)
            quiet = _runs(partial(state.decide, now, explain=False), CALLS)
            decision = state.decide(now)
            print(
                f"  {policy:10s} {label:5s} reasons: {_fmt(explain)} | no reasons: {_fmt(quiet)}"
                f" | {len(decision.starts)} starts, {len(decision.preemptions)} preemptions, "
                f"{len(state.waiting)} waiting, {len(state.running)} running before"
            )
            state.apply(decision, now)
            now += 1.0
    state, now = steady_state("airfoil")
    queue = state.waiting_items()
    running = state.running_items()
    oneshot = _runs(lambda: decide(queue, running, state.nodes, now=now), 1)
    print(f"  one-shot decide() that builds the state from scratch (airfoil): {_fmt(oneshot)}")
    item = WorkItem("x", "p0", ResourceSpec(cpu=1.0), submit_time=now)

    def churn() -> None:
        state.submit(item)
        state.withdraw("x")

    print(f"  incremental submit + withdraw of one item: {_fmt(_runs(churn, 1000), 1e6, 'us')}")


def bench_enqueue() -> None:
    """Submit + withdraw on ``airfoil``'s steady state after one decision, in CPU time.

    2,000 new items of the benchmark's mix (each a single worker or a gang, with an
    estimate, so each is reservable: a gang at once, a single past its starvation bound)
    are submitted, then withdrawn; a run's figure is the CPU time per item (submit and
    withdraw). Median of 7 runs."""
    state, now = steady_state("airfoil")
    state.apply(state.decide(now), now)
    rng = random.Random(5)
    items = [_item(rng, 100_000 + i, now) for i in range(2000)]
    samples = []
    for _ in range(7):
        t0 = time.process_time()
        for item in items:
            state.submit(item)
        for item in items:
            state.withdraw(item.id)
        samples.append((time.process_time() - t0) / len(items))
    print(
        f"submit + withdraw, {len(state.waiting):,} waiting, {len(state.running):,} running: "
        f"{_fmt(samples, 1e6, 'us')} (CPU time per item)"
    )


def bench_due_share() -> None:
    """``airfoil`` with and without its cap on due work, in CPU time, alternating."""
    _bench_variants(
        "due_share", {"due_share=None": AirfoilPolicy(due_share=None), "default": AirfoilPolicy()}
    )


def bench_preempt_ratio() -> None:
    """``airfoil`` as plain LAS in its victims (``preempt_ratio=None``) and by default."""
    _bench_variants(
        "preempt_ratio",
        {"preempt_ratio=None": AirfoilPolicy(preempt_ratio=None), "default": AirfoilPolicy()},
    )


def bench_srpt() -> None:
    """The cost of preemption within the last level (``srpt_ratio``) and of its queue bar."""
    _bench_variants(
        "srpt_ratio",
        {
            "default": AirfoilPolicy(),
            "srpt off": AirfoilPolicy(srpt_ratio=None),
            "no queue bar": AirfoilPolicy(srpt_queue=None),
        },
    )


def bench_defragment() -> None:
    """The cost of defragmentation by migration (``defragment``, on by default), which runs
    at the end of every decision: on ``steady_state`` and on ``fragmented_state`` (its worst
    case), off, as by default (with its guards) and without the guards."""
    variants = {
        "off": AirfoilPolicy(defragment=False),
        "default": AirfoilPolicy(),
        "any claimant": AirfoilPolicy(
            defragment_whole_only=False, defragment_spare_due=False, defragment_after=None
        ),
        "whole only": AirfoilPolicy(defragment_spare_due=False, defragment_after=None),
    }
    _bench_variants("defragment", variants)
    _bench_variants("defragment, fragmented", variants, fragmented_state)


def fragmented_state(policy: str | Policy) -> tuple[SchedulerState, float]:
    """128 nodes, each half held by one interruptible 4-GPU job; 10,000 waiting 8-GPU single
    workers, at its level and longer (so no rule of the default preempts for them), each
    waiting longer than its estimate (so ``defragment_after`` does not stop them): nothing
    fits, half the GPUs are idle, so ``defragment`` moves work in every decision (its worst
    case; the default only finds that nothing fits)."""
    rng, now, nodes, state = _cluster(policy, 0)
    for i in range(128):
        item = WorkItem(
            id=f"r{i}",
            project="p",
            resources=ResourceSpec(cpu=16.0, mem=128 * GIB, gpu=4),
            interruptible=True,
            submit_time=now - 20_000,
            estimate=rng.uniform(3_600, 36_000),
            attained=5_000.0,
        )
        state.submit(item)
        state.start(item.id, [nodes[i].name], now - rng.uniform(0, 1_000))
    for j in range(10_000):
        state.submit(
            WorkItem(
                id=f"w{j}",
                project="p",
                resources=ResourceSpec(cpu=32.0, mem=256 * GIB, gpu=8),
                interruptible=True,
                # waited longer than its estimate (``defragment_after`` up to 1.25), not
                # yet 12 times (not due)
                submit_time=now - 100_000 - rng.uniform(0, 7200),
                estimate=rng.uniform(40_000, 80_000),
                attained=5_000.0,
            )
        )
    return state, now


def _bench_variants(
    what: str,
    variants: dict[str, AirfoilPolicy],
    build: Callable[[str | Policy], tuple[SchedulerState, float]] = steady_state,
) -> None:
    """``decide()`` of each variant in CPU time, alternating.

    CPU time of this process (``time.process_time``) is much less disturbed than wall time
    by other processes on a shared machine; the variants alternate in rounds so that a
    change of load hits all alike. Per variant: first, next and the one after (each
    decision applied before the next), each the median of 5 runs of 5 calls.
    """
    print(f"decide() CPU time, airfoil by {what}; load: {os.getloadavg()}")
    for round_ in (1, 2):
        for label, policy in variants.items():
            state, now = build(policy)
            figures = []
            for _ in range(3):  # first, next, the one after
                samples = []
                state.decide(now)  # warm
                for _ in range(RUNS):
                    t0 = time.process_time()
                    for _ in range(5):
                        state.decide(now)
                    samples.append((time.process_time() - t0) / 5)
                decision = state.decide(now)
                figures.append(
                    f"{statistics.median(samples) * 1e3:.1f} ms "
                    f"({len(decision.starts)} starts, {len(decision.preemptions)} preempted)"
                )
                state.apply(decision, now)
                now += 1.0
            print(f"  round {round_} {label:15s} " + " / ".join(figures))


def bench_replay(trace_path: str | None) -> None:
    from airfoil.scheduler.sim import SimConfig, load_trace, simulate

    path = Path(
        trace_path
        or os.environ.get("AIRFOIL_TRACE", "")
        or REPO.parent / "shared" / "data" / "philly_week45.csv"
    )
    if not path.is_file():
        print(f"replay: trace not found at {path}; set AIRFOIL_TRACE")
        return
    trace = load_trace(path)
    print(f"replay: {path.name}, {len(trace.jobs)} jobs, 8x8gpu, load 1.0 (budget: 60 s total)")
    for error in (0.0, 1.0):
        total = 0.0
        for policy in policy_names():
            samples = []
            for _ in range(RUNS if policy in ("fifo", "airfoil") else 1):
                t0 = time.perf_counter()
                simulate(trace, policy, SimConfig(estimate_error=error))
                samples.append(time.perf_counter() - t0)
            total += statistics.median(samples)
            print(f"  estimate error {error}: {policy:10s} {_fmt(samples, 1.0, 's')}")
        print(f"  estimate error {error}: all {len(policy_names())} policies {total:.1f} s")


def main(argv: list[str]) -> None:
    what = argv[1] if len(argv) > 1 else "all"
    if what in ("all", "decide"):
        bench_decide()
    if what in ("all", "replay"):
        bench_replay(argv[2] if len(argv) > 2 else None)
    if what == "enqueue":
        bench_enqueue()
    if what == "due-share":
        bench_due_share()
    if what == "preempt-ratio":
        bench_preempt_ratio()
    if what == "srpt":
        bench_srpt()
    if what == "defragment":
        bench_defragment()


if __name__ == "__main__":
    main(sys.argv)
