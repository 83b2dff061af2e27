"""Every control-flow construct in one runnable file.

airfoil run examples/control_flow.py report --n 12
airfoil run examples/control_flow.py reviewed --n 5      # waits for two signals:
airfoil signal <execution id> threshold 3.5
airfoil signal <execution id> ship true
"""

from __future__ import annotations

import functools
from datetime import timedelta

import airfoil as af


@af.task
def numbers(n: int) -> list[int]:
    return list(range(n))


@af.task
def scale(x: int, factor: int) -> int:
    return x * factor


@af.task(retries=2)
def parse(x: int) -> int:
    if x % 7 == 6:
        raise ValueError(f"cannot parse item {x}")
    return x


@af.task
def total(xs: list[int]) -> int:
    return sum(xs)


@af.task
def tally(xs: list[int | None]) -> int:
    return sum(x for x in xs if x is not None)


@af.task
def describe(total: int, kind: str) -> str:
    return f"{kind}: {total}"


@af.task
def notify(error: af.FailureInfo) -> None:
    print(f"execution {error.execution_id} failed at {error.node_id}: {error.message}")


@af.dynamic
def per_bucket(values: list[int]) -> list[int]:
    """Real values: one scale per non-empty bucket of ten."""
    buckets = {v // 10 for v in values}
    return [scale(x=b, factor=10) for b in sorted(buckets)]


@af.workflow(on_failure=notify)
def report(n: int = 12) -> str:
    """map_task (with a fixed argument and a tolerated failure ratio), a conditional on a
    promised value, a dynamic workflow, and ordering without data (>>)."""
    xs = numbers(n=n)
    doubled = af.map_task(functools.partial(scale, factor=2))(x=xs)
    parsed = af.map_task(parse, concurrency=4, min_success_ratio=0.8)(x=xs)
    size = total(xs=doubled)
    buckets = total(xs=per_bucket(values=xs))
    kind = (
        af.conditional("size")
        .if_(size > 100)
        .then(describe(total=size, kind="big"))
        .elif_(size > 10)
        .then(describe(total=size, kind="medium"))
        .else_()
        .then(describe(total=size, kind="small"))
    )
    nap = af.sleep(timedelta(milliseconds=100))
    nap >> tally(xs=parsed)
    return describe(total=buckets, kind=kind)


@af.workflow
def reviewed(n: int = 5) -> int:
    """Gates: wait for a typed value and for an approval (answer with `airfoil signal`)."""
    threshold = af.wait_for_input("threshold", timeout=timedelta(hours=1), expected_type=float)
    result = total(xs=numbers(n=n))
    approved = af.approve(result, "ship", timeout=timedelta(hours=1))
    return af.conditional("over").if_(threshold < 100.0).then(approved).else_().then(0)
