"""The attempt context is made on first use (``LazyContext``): once per attempt, whichever
thread asks first, and what a task sees is the same as when it was made up front."""

from __future__ import annotations

import contextvars
import threading
import time

import pytest

import airfoil as af
from airfoil.sdk._context import (
    ExecutionContext,
    LazyContext,
    current_context,
    in_running_task,
    reset_context,
    running_context,
    set_context,
)

pytestmark = pytest.mark.unit


def test_nothing_is_made_until_asked_and_then_once() -> None:
    made: list[ExecutionContext] = []

    def make() -> ExecutionContext:
        ctx = ExecutionContext(execution_id="e1", node_id="n3", attempt=2, task="t")
        made.append(ctx)
        return ctx

    lazy = LazyContext(make)
    token = set_context(lazy)
    try:
        assert in_running_task()
        assert made == [] and lazy.ctx is None  # installing it makes nothing
        first = current_context()
        assert (first.execution_id, first.node_id, first.attempt) == ("e1", "n3", 2)
        assert current_context() is first and running_context() is first
        assert made == [first] and lazy.ctx is first
    finally:
        reset_context(token)
    assert running_context() is None and not in_running_task()
    assert current_context().execution_id == "local"  # outside a task: the local context


def test_threads_asking_at_once_get_one_context() -> None:
    calls = 0

    def slow_make() -> ExecutionContext:
        nonlocal calls
        calls += 1
        time.sleep(0.05)  # long enough for every thread to be waiting on the first
        return ExecutionContext(execution_id="e", node_id="n0", attempt=1, task="t")

    lazy = LazyContext(slow_make)
    token = set_context(lazy)
    try:
        seen: list[ExecutionContext] = []
        threads = [
            threading.Thread(
                target=contextvars.copy_context().run,
                args=(lambda: seen.append(current_context()),),
            )
            for _ in range(8)
        ]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    finally:
        reset_context(token)
    assert calls == 1
    assert len(seen) == 8 and all(c is seen[0] for c in seen)


@af.task
def _context_twice(x: int) -> str:
    a, b = af.current_context(), af.current_context()
    return f"{a is b}:{a.node_id}:{a.attempt}:{x}"


@af.task
def _calls_a_task(x: int) -> int:
    return _plus_one(x=x) * 10  # a child call: the context (and its child runner) made here


@af.task
def _plus_one(x: int) -> int:
    return x + 1


@af.workflow
def _flow(x: int) -> tuple[str, int]:
    return _context_twice(x=x), _calls_a_task(x=x)


def test_a_task_sees_its_own_context_and_calls_tasks_through_it() -> None:
    assert _flow(x=4) == ("True:n0:1:4", 50)
