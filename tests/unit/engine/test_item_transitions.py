"""Map items move through the node transition table: their one-byte phases are checked by
``MapState.move`` against ``TRANSITIONS`` (as bytes, ``ITEM_MOVES``), so an illegal item move
is an ``InvalidTransition`` naming the item, exactly as for nodes."""

from __future__ import annotations

import pytest
from _states import jv, new_state

import airfoil as af
from airfoil.core.records import ErrorInfo
from airfoil.engine import state as sm
from airfoil.engine._mapping import (
    ABORTED,
    FAILED,
    PENDING,
    QUEUED,
    RETRYING,
    RUNNING,
    SUCCEEDED,
    MapState,
)
from airfoil.engine.transitions import ITEM_MOVES, ITEM_PHASES, TRANSITIONS, InvalidTransition

pytestmark = pytest.mark.unit


@af.task(retries=1)
def fragile(x: int) -> int:
    return x


@af.workflow
def mapped(xs: list[int]) -> list[int]:
    return af.map_task(fragile)(x=xs)


def running_map(n: int = 2) -> tuple[sm.RunState, MapState]:
    state = new_state(mapped.spec, xs=list(range(n)))
    state.handle(sm.Start(1.0))
    state.handle(sm.MapExpanded("n0", [{"x": jv(i)} for i in range(n)], "", 2.0))
    return state, state.maps["n0"]


def test_item_phase_bytes_are_node_phases_and_their_moves_the_tables() -> None:
    codes = (PENDING, QUEUED, RUNNING, RETRYING, SUCCEEDED, FAILED, ABORTED)
    names = ["pending", "queued", "running", "retrying", "succeeded", "failed", "aborted"]
    assert [ITEM_PHASES[c].value for c in codes] == names
    k = len(ITEM_PHASES)
    for i, frm in enumerate(ITEM_PHASES):
        for j, to in enumerate(ITEM_PHASES):
            assert bool(ITEM_MOVES[i * k + j]) == ((frm, to) in TRANSITIONS)


def test_an_items_life_goes_through_legal_moves() -> None:
    state, ms = running_map()
    assert ms.phase[0] == QUEUED  # pending -> queued when the window took it
    (start,) = state.handle(sm.Admit("n0[0]", 3.0))
    assert isinstance(start, sm.StartAttempt) and ms.phase[0] == RUNNING
    error = ErrorInfo(kind="user", type="ValueError", message="boom")
    (retry,) = state.handle(sm.AttemptFinished("n0[0]", 1, None, error, 3.0, 4.0))
    assert isinstance(retry, sm.ScheduleRetry) and ms.phase[0] == RETRYING
    assert state.handle(sm.RetryDue("n0[0]", 5.0)) == [sm.Enqueue("n0[0]")]
    assert ms.phase[0] == QUEUED
    state.handle(sm.Admit("n0[0]", 6.0))
    state.handle(sm.AttemptFinished("n0[0]", 2, {"o0": jv(0)}, None, 6.0, 7.0))
    assert ms.phase[0] == SUCCEEDED


@pytest.mark.parametrize(
    ("setup", "to", "message"),
    [
        ((QUEUED, RUNNING, SUCCEEDED), QUEUED, "succeeded -> queued"),
        ((QUEUED, RUNNING, FAILED), RUNNING, "failed -> running"),
        ((QUEUED, RUNNING, RETRYING), RUNNING, "retrying -> running"),
        ((QUEUED, RUNNING), PENDING, "running -> pending"),
        ((QUEUED,), RETRYING, "queued -> retrying"),
        ((QUEUED, RUNNING, SUCCEEDED), FAILED, "succeeded -> failed"),
    ],
)
def test_an_illegal_item_move_is_an_invalid_transition_naming_the_item(
    setup: tuple[int, ...], to: int, message: str
) -> None:
    ms = MapState(inputs=[{}, {}, {}], window=3, node_id="n4")
    for phase in setup:
        ms.move(2, phase)
    before = ms.phase[2]
    with pytest.raises(InvalidTransition, match=rf"map item n4\[2\]: {message}"):
        ms.move(2, to)
    assert ms.phase[2] == before  # nothing changed


def _three_unfinished() -> tuple[sm.RunState, MapState]:
    """Items 0 running, 1 retrying (its first try failed), 2 queued (not admitted)."""
    state, ms = running_map(3)
    error = ErrorInfo(kind="user", type="ValueError", message="boom")
    state.handle(sm.Admit("n0[0]", 3.0))
    state.handle(sm.Admit("n0[1]", 3.0))
    state.handle(sm.AttemptFinished("n0[1]", 1, None, error, 3.0, 4.0))
    assert (ms.phase[0], ms.phase[1], ms.phase[2]) == (RUNNING, RETRYING, QUEUED)
    return state, ms


def test_a_failed_map_shows_no_item_still_running() -> None:
    # a map that fails (an item out of retries) stops its other items: their counts, as the
    # CLI, the API and the console show them, say aborted, never running (or retrying) on
    state, ms = _three_unfinished()
    error = ErrorInfo(kind="user", type="ValueError", message="boom")
    state.handle(sm.Admit("n0[2]", 5.0))
    state.handle(sm.AttemptFinished("n0[2]", 1, None, error, 5.0, 5.5))
    state.handle(sm.RetryDue("n0[2]", 5.6))
    state.handle(sm.Admit("n0[2]", 5.7))
    cmds = state.handle(sm.AttemptFinished("n0[2]", 2, None, error, 5.7, 6.0))
    assert ms.phase[2] == FAILED  # out of retries: the map fails (min_success_ratio 1)
    cmds += state.handle(sm.RetryDue("n0[1]", 7.0))  # the retry due: nothing to run now
    state.take_batch()
    assert state.records["n0"].phase == "failed"
    assert sm.CancelAttempt("n0[0]") in cmds
    assert not any(isinstance(c, sm.StartAttempt) for c in cmds)
    assert state.records["n0"].map_counts == {"aborted": 2, "failed": 1}


def test_an_aborted_run_leaves_its_map_items_aborted() -> None:
    state, ms = _three_unfinished()
    cmds = state.handle(sm.Abort("stopped by a user", 5.0))
    state.take_batch()
    assert set(ms.phase) == {ABORTED}
    assert sm.CancelAttempt("n0[0]") in cmds
    assert state.records["n0"].phase == "aborted"
    assert state.records["n0"].map_counts == {"aborted": 3}
    assert state.item_ends.phases == {"failed": 1, "aborted": 1}  # tries that ended
