"""Task history (issue 15): summary statistics, the anomaly rule and its messages, the
anomalies of an execution read from a store, and the observing hooks' batched writes."""

from __future__ import annotations

import math

import pytest

from airfoil.core.errors import InvalidInputError, NotFoundError
from airfoil.core.history import Summary, check, summarize
from airfoil.core.records import ErrorInfo, Interface, StoreBatch, TaskSpec
from airfoil.executors.base import AttemptRequest, AttemptResult
from airfoil.executors.observe import HISTORY_BATCH, HISTORY_MAX_WAIT_S, ObservingHooks
from airfoil.store._task_history import execution_anomalies, task_history
from airfoil.store.blob import LocalBlobStore
from airfoil.store.memory import MemoryMetaStore
from airfoil.testing.observability_conformance import make_run, make_series
from airfoil.testing.records import make_execution

pytestmark = pytest.mark.unit


def test_summary_statistics() -> None:
    s = summarize([4.0, 1.0, 3.0, 2.0, None, math.nan, math.inf])
    assert s is not None
    assert (s.count, s.mean, s.min, s.max) == (4, 2.5, 1.0, 4.0)
    assert s.std == pytest.approx(math.sqrt(5 / 3))  # sample std
    assert s.p50 == 2.5 and s.p95 == pytest.approx(3.85)  # linear, as numpy's default
    one = summarize([7.0])
    assert one is not None and (one.std, one.p50, one.p95) == (0.0, 7.0, 7.0)
    assert summarize([]) is None and summarize([None, math.nan]) is None


def _history(mean: float, std: float, count: int = 20) -> Summary:
    return Summary(count=count, mean=mean, std=std, p50=mean, p95=mean, min=0, max=0)


def test_the_rule_flags_beyond_k_std_with_enough_history() -> None:
    run = make_run()
    slow = check(run, 12.3, _history(2.0, 2.5), k=3, min_history=10)
    assert slow is not None and slow.kind == "duration"
    assert slow.message == "took 12.3 s, 4.1 std above the mean 2.0 s of 20 runs"
    assert check(run, 9.4, _history(2.0, 2.5), k=3, min_history=10) is None  # 2.96 std
    assert check(run, 12.3, _history(2.0, 2.5, count=9), k=3, min_history=10) is None
    assert check(run, 12.3, None, k=3, min_history=10) is None
    assert check(run, math.nan, _history(2.0, 2.5), k=3, min_history=10) is None
    fast = check(run, 0.001, _history(0.5, 0.1), k=3, min_history=10)
    assert fast is not None and fast.deviations < -3
    assert fast.message == "took 0.001 s, 5.0 std below the mean 0.5 s of 20 runs"
    metric = check(run, 0.9, _history(0.1, 0.01), k=3, min_history=10, metric="acc")
    assert metric is not None and metric.kind == "metric" and metric.metric == "acc"
    assert metric.message == "acc ended at 0.9, 80.0 std above the mean 0.1 of 20 runs"
    # a history without spread: any other value is flagged, the same value is not
    flat = check(run, 2.0, _history(1.0, 0.0), k=3, min_history=10, metric="n")
    assert flat is not None and flat.deviations == math.inf
    assert flat.message == "n ended at 2.0, above the 1.0 all 20 runs gave"
    assert check(run, 1.0, _history(1.0, 0.0), k=3, min_history=10, metric="n") is None


def test_a_duration_a_few_milliseconds_off_is_no_anomaly_however_tight_the_history() -> None:
    # A trivial task's runs of 1.3 ms spread by microseconds; one waited 16 ms more for a CPU
    # on a loaded machine (seen in a test at load 7): 2,000 std, not an anomaly.
    run = make_run()
    assert check(run, 0.017, _history(0.0013, 0.000008), k=3, min_history=10) is None
    assert check(run, 0.017, _history(0.0013, 0.0), k=3, min_history=10) is None
    slow = check(run, 0.301, _history(0.0349, 0.0415), k=3, min_history=10)  # the docs' case
    assert slow is not None and slow.message.startswith("took 0.301 s, 6.4 std above")
    # a metric has no such floor: its units are the user's
    assert check(run, 0.017, _history(0.0013, 0.000008), k=3, min_history=10, metric="m")


def _store(n_history: int, durations: list[float] | None = None) -> MemoryMetaStore:
    meta = MemoryMetaStore()
    for i in range(n_history + 1):
        meta.write(StoreBatch(execution=make_execution(f"h{i:02d}", project="p")))
    meta.write(StoreBatch(execution=make_execution("now", project="p")))
    spread = durations or [1.0 + (i % 3) * 0.1 for i in range(n_history)]
    meta.put_task_runs(
        [make_run(f"h{i:02d}", ended_at=100.0 + i, duration=d) for i, d in enumerate(spread)]
    )
    return meta


def test_an_executions_anomalies_compare_each_item_with_the_same_history() -> None:
    meta = _store(12)
    # a map's items: one slow, one usual; a failed slow attempt; another task; a later run
    meta.put_task_runs(
        [
            make_run("now", "n1[0]", ended_at=200.0, duration=9.0),
            make_run("now", "n1[1]", ended_at=201.0, duration=1.1),
            make_run("now", "n2", ended_at=202.0, duration=9.0, ok=False),
            make_run("now", "n3", ended_at=203.0, duration=9.0, task="mod.other"),
        ]
    )
    found = execution_anomalies(meta, "now", k=3, min_history=10)
    assert [(a.node_id, a.kind) for a in found] == [("n1[0]", "duration")]
    assert found[0].count == 12 and found[0].message.startswith("took 9.0 s, ")
    # runs that ended after the execution's are not its history
    meta.put_task_runs([make_run(f"h{12:02d}", ended_at=500.0, duration=50.0)])
    assert [a.node_id for a in execution_anomalies(meta, "now", k=3, min_history=10)] == ["n1[0]"]
    assert execution_anomalies(meta, "ghost", k=3, min_history=10) == []


def test_metric_anomalies_use_final_values() -> None:
    meta = _store(12)
    meta.put_metric_series(
        [make_series(f"h{i:02d}", n=2 + i % 2) for i in range(12)]  # final 0.5 or 0.333
    )
    meta.put_task_runs([make_run("now", ended_at=200.0, duration=1.1)])
    meta.put_metric_series([make_series("now", n=100)])  # final 0.01
    found = execution_anomalies(meta, "now", k=3, min_history=10)
    assert [(a.kind, a.metric) for a in found] == [("metric", "loss")]
    assert found[0].message.startswith("loss ended at 0.01, ")


@pytest.mark.parametrize(
    ("k", "min_history", "last", "what"),
    [
        (0, 10, 100, "anomaly k"),
        (math.nan, 10, 100, "anomaly k"),
        (3, 1, 100, "minimum"),
        (3, 10, 0, "number of runs"),
        (3, 10, 10_001, "number of runs"),
    ],
)
def test_bad_settings_are_refused(k: float, min_history: int, last: int, what: str) -> None:
    with pytest.raises(InvalidInputError, match=what):
        execution_anomalies(MemoryMetaStore(), "e", k=k, min_history=min_history, last=last)


def test_task_history_defaults_to_the_newest_version() -> None:
    meta = _store(3)
    meta.put_task_runs([make_run("now", ended_at=300.0, version="v2")])
    h = task_history(meta, "p", "mod.train")
    assert h.version == "v2" and [r.execution_id for r in h.runs] == ["now"]
    assert [v for v, _, _ in h.versions] == ["v2", "v1"]
    assert len(task_history(meta, "p", "mod.train", version="v1").runs) == 3
    with pytest.raises(NotFoundError, match="no recorded runs in project 'q'"):
        task_history(meta, "q", "mod.train")
    with pytest.raises(NotFoundError, match="it has v2, v1"):
        task_history(meta, "p", "mod.train", version="v9")
    with pytest.raises(InvalidInputError, match="--last 0"):
        task_history(meta, "p", "mod.train", last=0)


# --- the observing hooks write task runs in batches ----------------------------------------


def _request(eid: str, node: str) -> AttemptRequest:
    task = TaskSpec(name="m.t", version="v1", interface=Interface(), module="m", qualname="t")
    return AttemptRequest(
        execution_id=eid, node_id=node, attempt=1, task=task, inputs={}, blob_url="b"
    )


def _result(eid: str, node: str, error: ErrorInfo | None = None) -> AttemptResult:
    return AttemptResult(
        execution_id=eid, node_id=node, attempt=1, started_at=1.0, ended_at=3.5, error=error
    )


def test_runs_wait_for_the_executions_end_a_full_batch_or_the_close(tmp_path: object) -> None:
    meta = MemoryMetaStore()
    meta.write(StoreBatch(execution=make_execution("e1", project="p")))
    hooks = ObservingHooks(meta, LocalBlobStore(str(tmp_path)))
    hooks.attempt_ended(_request("e1", "n0"), _result("e1", "n0"))
    assert meta.execution_task_runs("e1") == []  # waiting: no write per attempt
    hooks.command_carried_out("e1", object(), 0)
    assert meta.execution_task_runs("e1") == []
    hooks.execution_finished("e1")  # the engine's on_finished
    (run,) = meta.execution_task_runs("e1")
    assert (run.task, run.version, run.duration, run.ok, run.project) == (
        "m.t",
        "v1",
        2.5,
        True,
        "p",
    )
    for i in range(HISTORY_BATCH):
        hooks.attempt_ended(_request("e1", f"m[{i}]"), _result("e1", f"m[{i}]"))
    assert len(meta.execution_task_runs("e1")) == 1 + HISTORY_BATCH  # the batch filled
    hooks.attempt_ended(_request("e1", "last"), _result("e1", "last"))
    hooks.close()
    assert len(meta.execution_task_runs("e1")) == 2 + HISTORY_BATCH
    assert hooks.flush_history() == 0


def test_a_failing_history_write_never_fails_the_run(tmp_path: object) -> None:
    class Broken(MemoryMetaStore):
        def put_task_runs(self, runs: object) -> None:
            raise RuntimeError("database away")

    meta = Broken()
    meta.write(StoreBatch(execution=make_execution("e1")))
    hooks = ObservingHooks(meta, LocalBlobStore(str(tmp_path)))
    hooks.attempt_ended(_request("e1", "n0"), _result("e1", "n0"))
    assert hooks.flush_history() == 0  # logged, dropped


def test_runs_are_written_once_the_oldest_waited_long_enough(tmp_path: object) -> None:
    meta = MemoryMetaStore()
    meta.write(StoreBatch(execution=make_execution("e1")))
    now = [0.0]
    hooks = ObservingHooks(meta, LocalBlobStore(str(tmp_path)), monotonic=lambda: now[0])
    hooks.attempt_ended(_request("e1", "n0"), _result("e1", "n0"))
    now[0] = HISTORY_MAX_WAIT_S - 0.1
    hooks.attempt_ended(_request("e1", "n1"), _result("e1", "n1", ErrorInfo("user", "E", "m")))
    assert meta.execution_task_runs("e1") == []
    now[0] = HISTORY_MAX_WAIT_S
    hooks.attempt_ended(_request("e1", "n2"), _result("e1", "n2"))
    assert [(r.node_id, r.ok) for r in meta.execution_task_runs("e1")] == [
        ("n0", True),
        ("n1", False),
        ("n2", True),
    ]


def test_notifications_on_anomaly_list_them_and_survive_a_failing_finder() -> None:
    from airfoil.core.launch_plans import LaunchPlanSpec, NotificationSpec
    from airfoil.core.records import WorkflowSpec
    from airfoil.engine.launch_plans import notify

    posts: list[str] = []
    spec = LaunchPlanSpec(
        name="lp",
        workflow=WorkflowSpec(
            name="m.wf", version="v", interface=Interface(), nodes=(), outputs={}
        ),
        notifications=(
            NotificationSpec(kind="webhook", url="http://h/x", phases=("anomaly",)),
            NotificationSpec(kind="webhook", url="http://h/y", phases=("failed",)),
        ),
    )
    record = make_execution("e1", phase="succeeded")

    def post(url: str, payload: dict[str, object], timeout: float) -> None:
        posts.append(f"{url} {payload['text']}")

    found = [f"n{i} m.t: took {i}.0 s" for i in range(7)]
    assert notify(spec, record, poster=post, anomalies=lambda: found) == ["webhook"]
    (text,) = posts
    assert text.startswith("http://h/x Airfoil: execution e1 of launch plan lp")
    assert text.endswith(
        "7 far from their history: n0 m.t: took 0.0 s; n1 m.t: took 1.0 s; "
        "n2 m.t: took 2.0 s; n3 m.t: took 3.0 s; n4 m.t: took 4.0 s; and 2 more"
    )
    posts.clear()
    assert notify(spec, record, poster=post, anomalies=lambda: []) == []

    def broken() -> list[str]:
        raise RuntimeError("database away")

    assert notify(spec, record, poster=post, anomalies=broken) == [] and posts == []
