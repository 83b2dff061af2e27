"""Training tasks without torch, for the gang's mechanics: the environment each rank gets,
rank 0's value as the output, a rank's error after the restarts are spent, and a gang too big
to place."""

from __future__ import annotations

import json
import os

import airfoil as af

_KEYS = ("MASTER_ADDR", "MASTER_PORT", "RANK", "WORLD_SIZE", "LOCAL_RANK", "LOCAL_WORLD_SIZE")


@af.training_task(workers=2, resources_per_worker=af.Resources(cpu=1), max_restarts=0)
def probe(marks: str) -> dict[str, str]:
    env = {k: os.environ[k] for k in _KEYS}
    env["backend"] = os.environ["AIRFOIL_TRAINING_BACKEND"]
    env["pid"] = str(os.getpid())
    with open(os.path.join(marks, f"env-{env['RANK']}.json"), "w") as f:
        json.dump(env, f)
    print(f"hello from rank {env['RANK']}")
    return env


def _rank_one_fails(marks: str) -> int:
    with open(os.path.join(marks, "starts.log"), "a") as f:
        f.write(f"{os.environ['RANK']} {os.environ['AIRFOIL_GANG_RESTART']}\n")
    import time

    if os.environ["RANK"] == "1":
        # Fail once rank 0 of this start runs (the test checks both ranks started each time).
        mark = f"0 {os.environ['AIRFOIL_GANG_RESTART']}"
        for _ in range(600):
            with open(os.path.join(marks, "starts.log")) as f:
                if mark in f.read().splitlines():
                    break
            time.sleep(0.05)
        raise ValueError("rank one cannot go on")

    time.sleep(30)  # stopped by the gang when rank 1 fails
    return 0


@af.training_task(workers=2, resources_per_worker=af.Resources(cpu=1), max_restarts=1)
def rank_one_fails(marks: str) -> int:
    return _rank_one_fails(marks)


@af.training_task(workers=2, resources_per_worker=af.Resources(cpu=1), max_restarts=0)
def rank_one_fails_at_once(marks: str) -> int:
    return _rank_one_fails(marks)


@af.workflow
def probe_wf(marks: str) -> dict[str, str]:
    return probe(marks=marks)


@af.workflow
def failing_wf(marks: str) -> int:
    return rank_one_fails(marks=marks)


@af.workflow
def failing_at_once_wf(marks: str) -> int:
    return rank_one_fails_at_once(marks=marks)


@af.training_task(
    workers=2, resources_per_worker=af.Resources(gpu=2), interruptible=True, retries=0
)
def counting(steps: int, marks: str) -> int:
    """Counts steps with a checkpoint after each one; rank 0 notes each step it runs."""
    import time

    ckpt = af.current_context().checkpoint
    saved = ckpt.load()
    start = 0 if saved is None else saved[0]
    attempt = af.current_context().attempt
    for step in range(start, steps):
        time.sleep(0.2)
        if os.environ["RANK"] == "0":
            with open(os.path.join(marks, "counted.log"), "a") as f:
                f.write(f"{attempt} {step} {time.time()}\n")
            ckpt.save({"done": step + 1}, step=step + 1)
    return steps


@af.task(requests=af.Resources(gpu=1))
def owner_step(x: int) -> int:
    import time

    time.sleep(0.3)
    return x


@af.workflow
def counting_wf(steps: int, marks: str) -> int:
    return counting(steps=steps, marks=marks)


@af.workflow
def owner_flood(xs: list[int]) -> list[int]:
    return af.map_task(owner_step)(x=xs)


@af.training_task(workers=2, resources_per_worker=af.Resources(cpu=1), max_restarts=0)
def chatty(marks: str) -> int:
    """Each rank prints three lines (buffered, never flushed), then waits for ``marks/go``:
    a test reads the ranks' logs while they run."""
    import time

    rank = os.environ["RANK"]
    for i in range(3):
        print(f"rank {rank} tick {i}")
    for _ in range(1200):
        if os.path.exists(os.path.join(marks, "go")):
            break
        time.sleep(0.05)
    print(f"rank {rank} done")
    return int(rank)


@af.workflow
def chatty_wf(marks: str) -> int:
    return chatty(marks=marks)
