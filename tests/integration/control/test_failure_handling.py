"""Failure handling: on_failure handlers with the failure's details, failure policies."""

from __future__ import annotations

import pytest

import airfoil as af
from airfoil.core.errors import DefinitionError
from airfoil.local import get_runtime

pytestmark = pytest.mark.integration

SEEN: list[af.FailureInfo] = []
CLEANED: list[str] = []


@af.task
def cleanup(error: af.FailureInfo, bucket: str) -> None:
    SEEN.append(error)
    CLEANED.append(bucket)


@af.task
def boom(x: int) -> int:
    raise ValueError(f"bad {x}")


@af.task
def fine(x: int) -> int:
    return x + 1


@af.workflow(on_failure=cleanup)
def guarded(x: int = 1, bucket: str = "tmp") -> int:
    return fine(x=boom(x=x))


@af.workflow(failure_policy="finish_what_can_run")
def keep_going(x: int = 1) -> int:
    boom(x=x)
    return fine(x=x)


def test_on_failure_runs_with_details_and_the_run_still_fails() -> None:
    SEEN.clear()
    with pytest.raises(af.ExecutionFailedError, match="bad 3"):
        guarded(x=3, bucket="scratch")
    (info,) = SEEN
    assert info.error_type == "ValueError" and info.message == "bad 3"
    assert info.kind == "user" and info.node_id == "n0"
    assert CLEANED == ["scratch"]
    rt = get_runtime()
    record = rt.meta.list_executions(limit=1)[0]
    nodes = {n.node_id: n.phase for n in rt.meta.get_nodes(record.id)}
    assert nodes == {"n0": "failed", "n1": "aborted", "on_failure": "succeeded"}
    assert record.error is not None and record.error.type == "ValueError"


def test_handler_does_not_run_on_success() -> None:
    CLEANED.clear()

    @af.workflow(on_failure=cleanup)
    def ok(x: int = 1, bucket: str = "b") -> int:
        return fine(x=x)

    assert ok(x=1) == 2
    assert CLEANED == []
    # The handler shows as skipped, not pending as if the finished execution still waited.
    rt = get_runtime()
    record = rt.meta.list_executions(limit=1)[0]
    assert record.phase == "succeeded"
    nodes = {n.node_id: n.phase for n in rt.meta.get_nodes(record.id)}
    assert nodes == {"n0": "succeeded", "on_failure": "skipped"}


def test_finish_what_can_run() -> None:
    with pytest.raises(af.ExecutionFailedError):
        keep_going(x=1)
    rt = get_runtime()
    record = rt.meta.list_executions(limit=1)[0]
    nodes = {n.node_id: n.phase for n in rt.meta.get_nodes(record.id)}
    assert nodes == {"n0": "failed", "n1": "succeeded"}


def test_handler_definition_errors() -> None:
    with pytest.raises(DefinitionError, match=r"needs an input `error: af\.FailureInfo`"):

        @af.workflow(on_failure=fine)
        def wf1(x: int) -> int:
            return fine(x=x)

    with pytest.raises(DefinitionError, match="input 'bucket'"):

        @af.workflow(on_failure=cleanup)
        def wf2(x: int) -> int:
            return fine(x=x)

    with pytest.raises(DefinitionError, match="failure_policy"):
        af.workflow(failure_policy="sometimes")(lambda: None)
