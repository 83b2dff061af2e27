"""Which rank a failed gang reports as its cause."""

from __future__ import annotations

from airfoil.executors._gang import GangOutcome, RankOutcome


def _outcome(*ranks: RankOutcome) -> GangOutcome:
    return GangOutcome(ranks=list(ranks), running_at=1.0, started_at=0.0)


def test_a_rank_that_died_is_the_cause_before_a_lower_rank_that_raised() -> None:
    raised = RankOutcome(rank=0, error_type="builtins.RuntimeError", message="peer closed")
    died = RankOutcome(rank=1, lost=True, message="rank 1 was lost (its actor or node died)")
    assert _outcome(raised, died).first_failure() == died


def test_the_lowest_rank_among_equals_and_never_a_stopped_one() -> None:
    stopped = RankOutcome(rank=0, lost=True, stopped=True)
    a = RankOutcome(rank=1, error_type="builtins.ValueError", message="a")
    b = RankOutcome(rank=2, error_type="builtins.ValueError", message="b")
    assert _outcome(stopped, a, b).first_failure() == a
    assert _outcome(stopped, RankOutcome(rank=1, ok=True)).first_failure() is None
    assert _outcome(RankOutcome(rank=0, ok=True)).first_failure() is None
