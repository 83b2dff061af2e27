"""A hash of chained ``airfoil`` decisions under many settings, with and without quotas.

``hash_decisions.py`` covers each policy's default; a speed-up of ``airfoil``'s passes must
also leave its other rules' decisions alone. For each setting below, on
``bench_scheduler``'s steady state of seeds 0 and 1, without quotas and with GPU quotas
(nominal 40, 48 or 56 GPUs; every other project may borrow at most 16 more), the policy
decides five times in a row (each decision applied, then the three running items expected
to end first finish and the clock moves a second), and eight times on
``bench_scheduler.fragmented_state``. Each line is one SHA-256 of the decisions' starts,
preemptions, reasons and wake-up times. Run it with each tree's ``src`` on ``PYTHONPATH``
and compare the outputs::

    PYTHONHASHSEED=0 PYTHONPATH=src python benchmarks/hash_airfoil_settings.py
    PYTHONHASHSEED=0 PYTHONPATH=src python benchmarks/hash_airfoil_settings.py default limit
"""

from __future__ import annotations

import hashlib
import sys

from bench_scheduler import fragmented_state, steady_state
from hash_decisions import encoded

from airfoil.core.resources import ResourceSpec
from airfoil.scheduler import AirfoilPolicy, Quota

SETTINGS: dict[str, dict[str, object]] = {
    "default": {},
    "ratioNone": {"preempt_ratio": None},
    "ratio0": {"preempt_ratio": 0.0},
    "dueNone": {"due_share": None},
    "swaps": {"whole_node_swaps": True},
    "res3": {"max_reservations": 3, "max_preemptions": 8},
    "srptoff": {"srpt_ratio": None},
    "srptq0": {"srpt_queue": None, "srpt_one_victim": False},
    "nodefrag": {"defragment": False},
}


def digest(settings: dict[str, object], seed: int, quotas: bool, fragmented: bool) -> str:
    """The hash of the chained decisions of ``AirfoilPolicy(**settings)`` on one state."""
    policy = AirfoilPolicy(**settings)  # type: ignore[arg-type]
    state, now = fragmented_state(policy) if fragmented else steady_state(policy, seed)
    if quotas:
        projects = sorted({e.project for e in state.waiting.values()})
        state.set_quotas(
            {
                p: Quota(
                    ResourceSpec(gpu=40 + 8 * (i % 3)),
                    borrowing_limit=None if i % 2 else ResourceSpec(gpu=16),
                )
                for i, p in enumerate(projects)
            }
        )
    h = hashlib.sha256()
    for _ in range(8 if fragmented else 5):
        decision = state.decide(now)
        h.update(encoded(decision))
        state.apply(decision, now)
        for _ in range(3):
            if state.running_by_end:
                state.finish(state.running_by_end[0][2], now)
        now += 1.0
    return h.hexdigest()[:16]


def main(argv: list[str]) -> None:
    names = argv[1:] or list(SETTINGS)
    unknown = [name for name in names if name not in SETTINGS]
    if unknown:
        raise SystemExit(f"unknown setting(s) {unknown}: choose from {', '.join(SETTINGS)}")
    for name in names:
        for seed in (0, 1):
            for quotas in (False, True):
                value = digest(SETTINGS[name], seed, quotas, False)
                print(f"{name:10s} seed {seed} quotas {quotas!s:5s} {value}", flush=True)
        print(f"{name:10s} fragmented              {digest(SETTINGS[name], 0, False, True)}")


if __name__ == "__main__":
    main(sys.argv)
