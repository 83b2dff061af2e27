"""The one-shot, stateless form of a decision: :func:`decide`."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING

from airfoil.scheduler._registry import DEFAULT_POLICY
from airfoil.scheduler._state import build_state

if TYPE_CHECKING:
    from airfoil.scheduler._estimator import RuntimeEstimator
    from airfoil.scheduler._model import Decision, Node, Quota, RunningItem, WorkItem
    from airfoil.scheduler._policy import Policy

__all__ = ["decide"]


def decide(
    queue: Iterable[WorkItem],
    running: Iterable[RunningItem],
    nodes: Sequence[Node],
    *,
    now: float,
    quotas: Mapping[str, Quota] | None = None,
    policy: Policy | str = DEFAULT_POLICY,
    estimator: RuntimeEstimator | None = None,
    explain: bool = True,
) -> Decision:
    """Decide from scratch what to start and preempt.

    Builds a :class:`~airfoil.scheduler.SchedulerState` and asks the policy once. A loop that
    decides repeatedly should keep a state and update it instead: that is what makes a
    decision over a long queue cheap.

    Args:
        queue: waiting work, in any order.
        running: work that holds resources now, with placements and start times.
        nodes: the cluster.
        now: the current time.
        quotas: per-project quotas.
        policy: a policy or its name.
        estimator: run-time history for estimates.
        explain: fill ``Decision.reasons``.

    Raises:
        UnknownPolicyError: ``policy`` names no policy.
        InvalidWorkItemError, UnschedulableError, PlacementError: the inputs are inconsistent.
    """
    state = build_state(nodes, queue, running, policy=policy, quotas=quotas, estimator=estimator)
    return state.decide(now, explain=explain)
