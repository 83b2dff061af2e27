"""The observability store conformance suite: tests every :class:`ObservabilityStore`
backend passes (the metadata stores: memory, SQLite, PostgreSQL).

Subclass :class:`ObservabilityStoreConformance` and provide the ``store`` fixture (an empty
:class:`~airfoil.store.base.MetaStore`)::

    class TestMyObservability(ObservabilityStoreConformance):
        @pytest.fixture
        def store(self) -> Iterator[MetaStore]:
            s = MyStore()
            yield s
            s.close()

Invariants checked are those of :mod:`airfoil.store._observability`.
"""

from __future__ import annotations

import math

import msgspec
import pytest

from airfoil.core.errors import NotFoundError
from airfoil.core.experiments import SeriesStat
from airfoil.core.failures import FailureRecord, failure_record
from airfoil.core.history import TaskRun
from airfoil.core.metrics import MetricChunk, MetricSeries, merge_chunks
from airfoil.core.phases import ErrorKind
from airfoil.core.records import ErrorInfo, StoreBatch
from airfoil.store.base import MetaStore
from airfoil.testing.records import make_execution

__all__ = ["ObservabilityStoreConformance", "make_failure", "make_run", "make_series"]


def make_series(
    execution_id: str = "e1", node_id: str = "n0", attempt: int = 1, name: str = "loss", n: int = 3
) -> MetricSeries:
    """A series of ``n`` points with every field set."""
    return MetricSeries(
        execution_id=execution_id,
        node_id=node_id,
        attempt=attempt,
        task="mod.train",
        name=name,
        kind="gauge",
        steps=list(range(n)),
        values=[1.0 / (i + 1) for i in range(n)],
        times=[1_700_000_000.0 + i for i in range(n)],
    )


def make_failure(
    execution_id: str = "e1",
    node_id: str = "n0",
    attempt: int = 1,
    *,
    project: str = "default",
    task: str = "mod.load",
    version: str = "v1",
    at: float = 1_700_000_000.0,
    message: str = "row 17 of /data/a.csv is bad",
    error_type: str = "ValueError",
    func: str = "load",
) -> FailureRecord:
    """A failure whose traceback's top user frame is ``flow.py:<func>``."""
    tb = (
        "Traceback (most recent call last):\n"
        f'  File "/code/flow.py", line 12, in {func}\n'
        "    raise ValueError(...)\n"
        f"{error_type}: {message}\n"
    )
    return failure_record(
        ErrorInfo(kind=ErrorKind.USER, type=error_type, message=message, traceback=tb),
        execution_id=execution_id,
        node_id=node_id,
        attempt=attempt,
        project=project,
        task=task,
        version=version,
        at=at,
    )


def make_run(
    execution_id: str = "e1",
    node_id: str = "n0",
    attempt: int = 1,
    *,
    task: str = "mod.train",
    version: str = "v1",
    ended_at: float = 1_700_000_010.0,
    duration: float = 2.0,
    ok: bool = True,
) -> TaskRun:
    """A run of ``task`` that took ``duration`` seconds and ended at ``ended_at``."""
    return TaskRun(
        execution_id=execution_id,
        node_id=node_id,
        attempt=attempt,
        task=task,
        version=version,
        started_at=ended_at - duration,
        ended_at=ended_at,
        ok=ok,
    )


class ObservabilityStoreConformance:
    """Tests every observability store passes. Subclasses provide ``store``."""

    @pytest.fixture
    def store(self) -> MetaStore:
        """The store under test, empty. Subclasses override this fixture."""
        raise NotImplementedError("subclass and provide a store fixture")

    def _execution(self, store: MetaStore, eid: str = "e1") -> None:
        store.write(StoreBatch(execution=make_execution(eid)))

    def test_series_round_trip_whole_and_in_order(self, store: MetaStore) -> None:
        self._execution(store)
        loss, acc = make_series(n=5), make_series(name="acc", n=2)
        late = make_series(node_id="n0", attempt=2, n=1)
        other = make_series(node_id="n1[3]", name="loss", n=4)
        store.put_metric_series([loss, acc, late, other])
        assert store.metric_series("e1") == [acc, loss, late, other]
        assert store.metric_series("e1", "n0") == [acc, loss, late]
        assert store.metric_series("e1", name="loss") == [loss, late, other]
        assert store.metric_series("e1", "n1[3]", "loss") == [other]
        assert store.metric_series("e1", "n9") == []
        assert store.metric_series("nope") == []

    def test_storing_again_replaces_the_series(self, store: MetaStore) -> None:
        self._execution(store)
        store.put_metric_series([make_series(n=3)])
        longer = make_series(n=10)
        store.put_metric_series([longer])
        assert store.metric_series("e1") == [longer]
        store.put_metric_series([])  # nothing to store is fine
        assert store.metric_series("e1") == [longer]

    def test_unknown_execution_stores_nothing(self, store: MetaStore) -> None:
        self._execution(store)
        with pytest.raises(NotFoundError, match="'ghost'"):
            store.put_metric_series([make_series(), make_series(execution_id="ghost")])
        assert store.metric_series("e1") == []

    def test_large_series_and_non_numbers_survive(self, store: MetaStore) -> None:
        self._execution(store)
        n = 100_000
        chunk = MetricChunk(
            ["loss", "batches"],
            ["gauge", "counter"],
            [(0, i, math.sin(i / 100.0), 1.0 + i) for i in range(n)]
            + [(0, n, float("nan"), 2.0), (0, n + 1, float("inf"), 3.0), (1, 0, 7.0, 4.0)],
        )
        series = merge_chunks([chunk], "e1", "n0", 1, "mod.train")
        store.put_metric_series(series)
        got = {s.name: s for s in store.metric_series("e1")}
        assert got["loss"].count == n + 2
        assert got["loss"].values[-2:] == [None, None]  # NaN and infinity: no number
        assert got["loss"].values[:n] == [math.sin(i / 100.0) for i in range(n)]
        assert got["batches"].kind == "counter" and got["batches"].values == [7.0]

    def test_same_names_in_other_executions_stay_apart(self, store: MetaStore) -> None:
        self._execution(store, "e1")
        self._execution(store, "e2")
        a, b = make_series("e1", n=2), make_series("e2", n=4)
        store.put_metric_series([a, b])
        assert store.metric_series("e1") == [a]
        assert store.metric_series("e2") == [b]

    def test_metric_stats_summarise_each_series_without_its_points(self, store: MetaStore) -> None:
        self._execution(store, "e1")
        self._execution(store, "e2")
        loss = make_series(n=4)  # 1, 1/2, 1/3, 1/4
        chunk = MetricChunk(["acc"], ["gauge"], [(0, 0, 0.5, 10.0), (0, 1, 0.9, 11.0)])
        chunk = MetricChunk(
            ["acc"], ["gauge"], [*chunk.points, (0, 2, float("nan"), 12.0)]
        )  # ends on NaN
        acc = merge_chunks([chunk], "e1", "n1", 2, "mod.eval")
        other = make_series("e2", n=2)
        store.put_metric_series([loss, *acc, other])
        got = store.metric_stats(["e1", "e2", "ghost"])
        assert [(s.execution_id, s.node_id, s.name) for s in got] == [
            ("e1", "n0", "loss"),
            ("e1", "n1", "acc"),
            ("e2", "n0", "loss"),
        ]
        assert got[0] == SeriesStat(
            execution_id="e1",
            node_id="n0",
            attempt=1,
            name="loss",
            kind="gauge",
            points=4,
            last=0.25,
            last_at=1_700_000_003.0,
            min=0.25,
            max=1.0,
        )
        assert (got[1].points, got[1].last, got[1].min, got[1].max) == (3, None, 0.5, 0.9)
        assert got[1].last_at == 12.0
        assert store.metric_stats(["e1"], ["acc"]) == [got[1]]
        assert store.metric_stats(["e1"], []) == []
        assert store.metric_stats([]) == []
        # stored again: the summary follows the series
        store.put_metric_series([make_series(n=1)])
        assert store.metric_stats(["e1"], ["loss"])[0].points == 1

    def test_run_heads_carry_inputs_newest_first(self, store: MetaStore) -> None:
        for i, (wf, phase) in enumerate(
            [("m.a", "succeeded"), ("m.b", "succeeded"), ("m.a", "failed"), ("m.a", "succeeded")]
        ):
            rec = make_execution(f"r{i}", created_at=100.0 + i, workflow=wf, phase=phase)
            store.write(StoreBatch(execution=rec))
        heads = store.list_run_heads(workflow="m.a", limit=10)
        assert [h.id for h in heads] == ["r3", "r2", "r0"]
        assert heads[0].inputs == make_execution("r3").inputs
        assert heads[0].started_at == make_execution("r3", created_at=103.0).started_at
        assert [h.id for h in store.list_run_heads(workflow="m.a", phase="failed")] == ["r2"]
        assert [h.id for h in store.list_run_heads(workflow="m.a", limit=1)] == ["r3"]
        assert store.list_run_heads(project="other", workflow="m.a") == []

    def test_metric_stats_of_many_executions(self, store: MetaStore) -> None:
        ids = [f"e{i:04d}" for i in range(520)]  # more than one IN (...) batch of 500
        for eid in ids:
            self._execution(store, eid)
        store.put_metric_series([make_series(eid, n=2) for eid in ids])
        got = store.metric_stats(ids, ["loss"])
        assert [s.execution_id for s in got] == ids

    def test_failures_group_by_signature_across_runs(self, store: MetaStore) -> None:
        for eid in ("e1", "e2", "e3"):
            self._execution(store, eid)
        bad_rows = [
            make_failure("e1", "n0", 1, at=10.0, message="row 17 of /data/a.csv is bad"),
            make_failure("e1", "n0", 2, at=11.0, message="row 4 of /data/b.csv is bad"),
            make_failure(
                "e2", "n3", 1, at=30.0, message="row 9 of /tmp/c.csv is bad", version="v2"
            ),
        ]
        other = make_failure("e3", "n1", 1, at=20.0, error_type="KeyError", message="'a'")
        elsewhere = make_failure("e3", "n2", 1, project="other", at=40.0)
        for f in [*bad_rows, other, elsewhere]:
            store.put_failure(f)
        groups = store.failure_groups("default")
        assert [(g.type, g.count, g.executions) for g in groups] == [
            ("ValueError", 3, 2),
            ("KeyError", 1, 1),
        ]
        rows = groups[0]
        assert rows.pattern == "row <n> of <path> is bad" and rows.frame == "flow.py:load"
        assert (rows.first_seen, rows.last_seen) == (10.0, 30.0)
        assert rows.tasks == ["mod.load@v1", "mod.load@v2"]
        assert rows.example == bad_rows[2]  # the latest, whole
        assert store.failure_groups("other")[0].count == 1
        assert store.failure_groups("nobody") == []
        # windows, tasks, limits, drill-down
        assert [g.count for g in store.failure_groups("default", since=15.0)] == [1, 1]
        assert store.failure_groups("default", task="mod.other") == []
        assert len(store.failure_groups("default", limit=1)) == 1
        assert store.failures("default", rows.signature) == bad_rows[::-1]
        assert store.failures("default", rows.signature, since=10.5, limit=1) == [bad_rows[2]]
        assert store.failures("default", "0" * 16) == []

    def test_a_failure_stored_again_is_replaced_and_needs_its_execution(
        self, store: MetaStore
    ) -> None:
        self._execution(store)
        store.put_failure(make_failure(at=1.0))
        again = make_failure(at=2.0, message="row 1 of /x/y is bad")
        store.put_failure(again)
        (group,) = store.failure_groups("default")
        assert group.count == 1 and group.example == again
        with pytest.raises(NotFoundError, match="'ghost'"):
            store.put_failure(make_failure("ghost"))

    # --- task history -------------------------------------------------------------------

    def _projects(self, store: MetaStore) -> None:
        store.write(StoreBatch(execution=make_execution("e1", project="p")))
        store.write(StoreBatch(execution=make_execution("e2", project="p")))
        store.write(StoreBatch(execution=make_execution("e3", project="q")))

    def test_task_runs_round_trip_newest_first_with_their_project(self, store: MetaStore) -> None:
        self._projects(store)
        a = make_run("e1", "n0", 1, ended_at=10.0, duration=1.5)
        b = make_run("e1", "n1[3]", 1, ended_at=30.0)
        c = make_run("e2", "n0", 2, ended_at=20.0, version="v2")
        failed = make_run("e2", "n0", 1, ended_at=15.0, version="v2", ok=False)
        elsewhere = make_run("e3", "n0", 1, ended_at=40.0)
        store.put_task_runs([a, b, c, failed, elsewhere, make_run("ghost")])
        store.put_task_runs([])
        got = store.task_runs("p", "mod.train")
        assert [(r.execution_id, r.node_id, r.attempt) for r in got] == [
            ("e1", "n1[3]", 1),
            ("e2", "n0", 2),
            ("e1", "n0", 1),
        ]
        assert got[2] == msgspec.structs.replace(a, project="p")
        assert got[2].duration == 1.5
        assert store.task_runs("q", "mod.train")[0].project == "q"
        assert store.task_runs("p", "mod.other") == []
        assert [r.ok for r in store.task_runs("p", "mod.train", succeeded_only=False)] == [
            True,
            True,
            False,
            True,
        ]
        assert [r.ended_at for r in store.task_runs("p", "mod.train", version="v1")] == [
            30.0,
            10.0,
        ]
        assert [r.ended_at for r in store.task_runs("p", "mod.train", before=30.0)] == [
            20.0,
            10.0,
        ]
        assert [r.ended_at for r in store.task_runs("p", "mod.train", last=1)] == [30.0]
        assert [r.ended_at for r in store.task_runs("p", "mod.train", exclude_execution="e1")] == [
            20.0
        ]
        assert [(r.node_id, r.attempt) for r in store.execution_task_runs("e2")] == [
            ("n0", 1),
            ("n0", 2),
        ]
        assert store.execution_task_runs("ghost") == []
        assert store.task_versions("p", "mod.train") == [("v1", 2, 30.0), ("v2", 2, 20.0)]
        assert store.task_versions("p", "nothing") == []
        store.put_task_runs([make_run("e1", "n2", 1, task="mod.other", ended_at=25.0, ok=False)])
        assert store.task_names("p") == [("mod.train", 4, 1, 30.0), ("mod.other", 1, 1, 25.0)]
        assert store.task_names("p", limit=1) == [("mod.train", 4, 1, 30.0)]
        assert store.task_names("q") == [("mod.train", 1, 0, 40.0)]
        assert store.task_names("nowhere") == []

    def test_a_task_run_stored_again_keeps_the_first(self, store: MetaStore) -> None:
        self._projects(store)
        store.put_task_runs([make_run(duration=1.0)])
        store.put_task_runs([make_run(duration=9.0), make_run(node_id="n1")])
        assert sorted((r.node_id, r.duration) for r in store.task_runs("p", "mod.train")) == [
            ("n0", 1.0),
            ("n1", 2.0),
        ]

    def test_task_run_metrics_are_the_final_values_of_the_same_runs(self, store: MetaStore) -> None:
        self._projects(store)
        store.put_task_runs(
            [
                make_run("e1", "n0", 1, ended_at=10.0),
                make_run("e2", "n0", 1, ended_at=20.0),
                make_run("e2", "n1", 1, ended_at=25.0, ok=False),
            ]
        )
        nan = MetricChunk(["loss"], ["gauge"], [(0, 0, 1.0, 1.0), (0, 1, float("nan"), 2.0)])
        store.put_metric_series(
            [
                make_series("e1", n=4),
                make_series("e1", name="acc", n=1),
                *merge_chunks([nan], "e2", "n0", 1, "mod.train"),
                make_series("e2", "n1", n=2),  # of a failed run: not history
            ]
        )
        got = store.task_run_metrics("p", "mod.train")
        assert got == {("e1", "n0", 1): {"loss": 0.25, "acc": 1.0}, ("e2", "n0", 1): {"loss": None}}
        assert store.task_run_metrics("p", "mod.train", last=1) == {("e2", "n0", 1): {"loss": None}}
        assert store.task_run_metrics("p", "mod.train", exclude_execution="e2") == {
            ("e1", "n0", 1): {"loss": 0.25, "acc": 1.0}
        }
        assert store.task_run_metrics("q", "mod.train") == {}
