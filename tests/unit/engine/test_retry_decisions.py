"""The one retry rule: which budget an error uses, and which errors are never retried."""

from __future__ import annotations

from airfoil.core.records import ErrorInfo, Interface, TaskSpec
from airfoil.engine._retry import RetryPolicy, decide_retry


def _task(retries: int = 2, system_retries: int = 3) -> TaskSpec:
    return TaskSpec(
        name="t",
        version="v",
        interface=Interface(),
        module="m",
        qualname="t",
        retries=retries,
        system_retries=system_retries,
    )


def test_a_data_error_is_never_retried_whatever_the_budgets() -> None:
    err = ErrorInfo(kind="data", type="CorruptBlobError", message="input 'xs' cannot be read")
    d = decide_retry(err, 0, 0, _task(retries=5, system_retries=5), RetryPolicy())
    assert not d.retry
    assert (d.user_failures, d.system_failures) == (0, 0)
    assert d.cause(err) == "data error (CorruptBlobError): not retried, the input itself is damaged"


def test_user_and_system_errors_use_their_own_budgets() -> None:
    task = _task(retries=1, system_retries=2)
    user = ErrorInfo(kind="user", type="ValueError", message="x")
    system = ErrorInfo(kind="system", type="WorkerLostError", message="x")
    assert decide_retry(user, 0, 0, task, RetryPolicy()).retry
    assert not decide_retry(user, 1, 0, task, RetryPolicy()).retry
    assert decide_retry(system, 0, 1, task, RetryPolicy()).retry
    d = decide_retry(system, 0, 2, task, RetryPolicy())
    assert not d.retry and d.cause(system) == (
        "system error (WorkerLostError): system retries exhausted (2)"
    )


def test_the_backoff_stays_capped_after_a_thousand_failures() -> None:
    # Before: base * 2**(n-1) was computed before the cap: past 1,025 failures the int no
    # longer converted to a float, and the OverflowError failed the execution as an error of
    # the engine's own -- a task with retries=10**6 ("retry until the service is back"),
    # retried every 30 s, lost its execution after about 8.5 hours.
    policy = RetryPolicy()
    assert policy.delay(1) == 0.05
    assert policy.delay(2_000) == policy.max_s == 30.0
    err = ErrorInfo(kind="user", type="ConnectionError", message="refused")
    d = decide_retry(err, 1_100, 0, _task(retries=10**6), policy)
    assert d.retry and d.delay_s == 30.0 and d.used == 1_101
