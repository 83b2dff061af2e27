"""One retry decision for nodes and map items alike (pure).

An attempt that failed is tried again, or not, by the same rule wherever it ran:

- a preemption (the scheduler took the resources back) is retried at once, using no budget;
- a data error (an input's stored bytes are damaged) is never retried: the same bytes would
  be read again;
- a user error uses the task's ``retries``; any other error its ``system_retries``;
- tries are spaced by :class:`RetryPolicy` (``base * 2**(n-1)`` seconds, capped).
"""

from __future__ import annotations

import msgspec

from airfoil.core.backoff import doubling
from airfoil.core.phases import AttemptPhase, ErrorKind
from airfoil.core.records import ErrorInfo, TaskSpec
from airfoil.engine._commands import PREEMPTED

__all__ = ["RetryDecision", "RetryPolicy", "decide_retry", "failed_attempt_phase"]


class RetryPolicy(msgspec.Struct):
    """Backoff between attempts: ``base * 2**(n-1)`` seconds, capped."""

    base_s: float = 0.05
    max_s: float = 30.0

    def delay(self, failures: int) -> float:
        return doubling(self.base_s, failures - 1, self.max_s)  # any count (retries=10**6)


class RetryDecision(msgspec.Struct, frozen=True):
    """What to do after a failed attempt, and the failure counts that follow from it."""

    retry: bool
    delay_s: float
    user_failures: int
    system_failures: int
    #: the budget the error used ("retries", "system retries"; "" for none), its size, and
    #: how much of it is used now
    what: str
    budget: int
    used: int

    def cause(self, err: ErrorInfo) -> str:
        """Why the node moves on (the event log's cause)."""
        if err.kind == ErrorKind.DATA:
            return f"data error ({err.type}): not retried, the input itself is damaged"
        if not self.what:
            return (
                f"system error ({err.type}): {err.message}; retry at +{self.delay_s:.2f}s, "
                "not counted against any retry budget"
            )
        if self.retry:
            return (
                f"{err.kind} error ({err.type}); retry {self.used} of {self.budget} "
                f"{self.what} at +{self.delay_s:.2f}s"
            )
        return f"{err.kind} error ({err.type}): {self.what} exhausted ({self.budget})"


def decide_retry(
    err: ErrorInfo,
    user_failures: int,
    system_failures: int,
    task: TaskSpec,
    policy: RetryPolicy,
) -> RetryDecision:
    """Whether a node or map item whose attempt failed with ``err`` is tried again."""
    if err.kind == ErrorKind.SYSTEM and err.type == PREEMPTED:
        return RetryDecision(True, policy.delay(0), user_failures, system_failures, "", 0, 0)
    if err.kind == ErrorKind.DATA:
        return RetryDecision(False, 0.0, user_failures, system_failures, "", 0, 0)
    if err.kind == ErrorKind.USER:
        user_failures += 1
        used, budget, what = user_failures, task.retries, "retries"
    else:
        system_failures += 1
        used, budget, what = system_failures, task.system_retries, "system retries"
    retry = used <= budget
    delay = policy.delay(used) if retry else 0.0
    return RetryDecision(retry, delay, user_failures, system_failures, what, budget, used)


def failed_attempt_phase(err: ErrorInfo) -> str:
    """The phase of an attempt that ended with ``err``: failed for the user's code or data,
    lost for anything else (the platform's: the worker, the driver, the cluster)."""
    if err.kind in (ErrorKind.USER, ErrorKind.DATA):
        return AttemptPhase.FAILED.value
    return AttemptPhase.LOST.value
