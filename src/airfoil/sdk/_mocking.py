"""Replacing a task's function in tests: :func:`task_mock` and :func:`patch`.

While a task is mocked, every run in this process that reaches it -- a call outside a
workflow, a node of a workflow, a child call from a running task -- calls the replacement
instead of the task's function. The replacement's result goes through the task's declared
outputs as a real result would (a bad value fails the node with the usual error).

Invariants: a mocked task never reads or writes the cache (its spec says ``cache`` off and has
its own version, so no cached result of the real code is returned and no mocked result is
stored for it); workflows compiled before the mock are compiled again on their next use (the
mock epoch changes on entering and leaving a mock), so their nodes carry the mocked spec while
it lasts and the real one after. Mocks reach tasks run in this process (the ``inline``
executor, the default); a ``process`` executor's workers import the real code.
"""

from __future__ import annotations

import functools
import inspect
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, TypeVar

from airfoil.core.errors import DefinitionError

if TYPE_CHECKING:
    from unittest import mock

__all__ = ["mock_epoch", "patch", "task_mock", "replaced_task"]

_lock = threading.Lock()
_epoch = 0

F = TypeVar("F", bound=Callable[..., Any])


def mock_epoch() -> int:
    """A number that changes whenever a task's mock starts or ends."""
    return _epoch


def _bump() -> None:
    global _epoch
    with _lock:
        _epoch += 1


def _task_def(target: Any) -> Any:
    from airfoil.sdk._task import TaskDef, live_task

    if not isinstance(target, TaskDef):
        raise DefinitionError(
            f"only a task can be mocked, not {target!r}: pass the object @task returned "
            "(to replace a workflow in a test, mock the tasks it calls)"
        )
    # ``with_name`` copies share the function; the runtime finds the registered original.
    live = live_task(target.module, target.fn_qualname)
    return live if live is not None else target


@contextmanager
def replaced_task(target: Any, replacement: Callable[..., Any]) -> Iterator[Any]:
    """Run ``replacement`` (called with the task's inputs as keywords) instead of the task's
    function inside the ``with`` block.

    Raises:
        DefinitionError: ``target`` is not a task, or ``replacement`` is not callable.
    """
    if not callable(replacement):
        raise DefinitionError(f"a task's replacement must be callable, not {replacement!r}")
    tasks = {id(t): t for t in (target, _task_def(target))}
    previous = {key: t._mock for key, t in tasks.items()}
    for t in tasks.values():
        t._mock = replacement
    _bump()
    try:
        yield replacement
    finally:
        for key, t in tasks.items():
            t._mock = previous[key]
        _bump()


@contextmanager
def task_mock(target: Any) -> Iterator[mock.MagicMock]:
    """A :class:`unittest.mock.MagicMock` that runs instead of the task in the block; set its
    ``return_value`` (or ``side_effect``) and assert its calls (inputs come as keywords).

    Example::

        with task_mock(fetch) as m:
            m.return_value = [1, 2, 3]
            assert pipeline(n=3) == 6
        m.assert_called_once_with(n=3)
    """
    from unittest import mock  # only tests mock: `airfoil run` should not import it (~20 ms)

    task = _task_def(target)
    fake = mock.MagicMock(name=task.name)
    with replaced_task(target, fake):
        yield fake


def patch(target: Any) -> Callable[[F], F]:
    """Decorate a test function so that ``target`` is mocked while it runs; the mock is passed
    as the test's last positional argument (flytekit's ``flytekit.testing.patch``). Pytest
    does not take that argument for a fixture.

    Raises:
        DefinitionError: ``target`` is not a task.
    """
    _task_def(target)

    def decorate(test: F) -> F:
        @functools.wraps(test)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            with task_mock(target) as fake:
                return test(*args, fake, **kwargs)

        sig = inspect.signature(test)
        params = list(sig.parameters.values())
        positional = [p for p in params if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
        if not positional:
            raise DefinitionError(
                f"@patch({task_name(target)}) passes the mock as the last positional argument: "
                f"give {test.__qualname__} a parameter for it"
            )
        params.remove(positional[-1])
        wrapper.__signature__ = sig.replace(parameters=params)  # type: ignore[attr-defined]
        return wrapper  # type: ignore[return-value]

    return decorate


def task_name(target: Any) -> str:
    return str(getattr(target, "name", target))
