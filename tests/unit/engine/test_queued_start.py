"""An attempt that waited for a worker after its admission (a server's shared pool queues
the attempts no worker is free for) is recorded as starting at its hand-off, so its shown
duration is its run, not its wait; one handed over at once keeps the start it had."""

from __future__ import annotations

import pytest
from test_run_state import chain, execution, failed, val

from airfoil.engine import state as sm

pytestmark = pytest.mark.unit


def _finished(queued_s: float, worker_start: float, attempt: int = 1) -> sm.AttemptFinished:
    return sm.AttemptFinished(
        "n0", attempt, {"o0": val(1)}, None, started_at=worker_start, now=110.0, queued_s=queued_s
    )


def test_a_queued_attempts_start_is_its_hand_off_not_its_admission() -> None:
    """Fails before srv4b: the start stayed at the admission (``min``), 100 s of wait shown
    as running. The wait is counted from the admission on the driver's clock; the worker's
    own clock (another host's on Ray) is not read."""
    s = sm.RunState(execution(chain(1)))
    s.handle(sm.Start(0.0))
    s.handle(sm.Admit("n0", 0.0))
    s.handle(_finished(queued_s=100.0, worker_start=5_000.0))
    att = s.attempts[("n0", 1)]
    assert (att.started_at, att.ended_at) == (100.0, 110.0)


def test_an_attempt_handed_over_at_once_keeps_its_admission_start() -> None:
    s = sm.RunState(execution(chain(1)))
    s.handle(sm.Start(0.0))
    s.handle(sm.Admit("n0", 0.0))
    s.handle(_finished(queued_s=0.0, worker_start=5.0))  # a worker clock after admission
    assert s.attempts[("n0", 1)].started_at == 0.0


def test_a_wait_past_the_end_never_starts_it_after_it_ended() -> None:
    s = sm.RunState(execution(chain(1)))
    s.handle(sm.Start(0.0))
    s.handle(sm.Admit("n0", 0.0))
    s.handle(_finished(queued_s=500.0, worker_start=0.0))
    att = s.attempts[("n0", 1)]
    assert att.started_at == att.ended_at == 110.0


def test_a_queued_first_attempts_node_starts_at_the_hand_off_too() -> None:
    """Fails on main: the node's start stayed at the admission, so the node's duration (what
    ``airfoil executions show``, the console's node panel and the API's ``duration_s`` show)
    counted the 100 s of wait for a worker that its attempt's did not."""
    s = sm.RunState(execution(chain(1)))
    s.handle(sm.Start(0.0))
    s.handle(sm.Admit("n0", 0.0))
    s.handle(_finished(queued_s=100.0, worker_start=5_000.0))
    rec = s.records["n0"]
    assert (rec.started_at, rec.ended_at) == (100.0, 110.0)


def test_a_retry_that_waited_leaves_the_nodes_start_at_its_first_attempt() -> None:
    """The node began with its first attempt; a later attempt's wait for a worker is inside
    the node's time, and moves only that attempt's start."""
    s = sm.RunState(execution(chain(1, retries=1)))
    s.handle(sm.Start(0.0))
    s.handle(sm.Admit("n0", 0.0))
    s.handle(failed("n0", 1, now=1.0))
    s.handle(sm.RetryDue("n0", 2.0))
    s.handle(sm.Admit("n0", 2.0))
    s.handle(_finished(queued_s=100.0, worker_start=0.0, attempt=2))  # ends at 110
    rec = s.records["n0"]
    assert (rec.started_at, rec.ended_at) == (0.0, 110.0)
    assert s.attempts[("n0", 1)].started_at == 0.0
    assert s.attempts[("n0", 2)].started_at == 102.0
