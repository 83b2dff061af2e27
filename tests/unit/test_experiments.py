"""The experiment table's pure rules: summaries of a metric over a run's nodes and
attempts, its columns, and sorting (``airfoil.core.experiments``)."""

from __future__ import annotations

import pytest

from airfoil.core.errors import InvalidInputError
from airfoil.core.experiments import (
    SeriesStat,
    parse_metric_column,
    runs_table,
    series_stat,
    summarise_metrics,
)
from airfoil.core.metrics import MetricSeries
from airfoil.core.records import Value
from airfoil.testing.records import make_execution


def _series(eid: str, values: list[float | None], *, node: str = "n0", attempt: int = 1,
            t0: float = 100.0, name: str = "loss") -> MetricSeries:  # fmt: skip
    return MetricSeries(
        execution_id=eid,
        node_id=node,
        attempt=attempt,
        task="m.train",
        name=name,
        steps=list(range(len(values))),
        values=values,
        times=[t0 + i for i in range(len(values))],
    )


def _json(v: object) -> Value:
    import json

    data = json.dumps(v).encode()
    return Value(hash=str(hash(data)), format="json", inline=data, size=len(data))


def _run(eid: str, phase: str = "succeeded", created: float = 0.0, **inputs: object):  # type: ignore[no-untyped-def]
    import msgspec

    rec = make_execution(eid, created_at=created, name="")  # named by its id
    return msgspec.structs.replace(
        rec,
        phase=phase,
        started_at=created,
        ended_at=created + 1.0 + len(eid),
        inputs={k: _json(v) for k, v in inputs.items()},
    )


def test_series_stat_skips_non_numbers_for_min_and_max() -> None:
    s = series_stat(_series("e", [None, 3.0, 1.0, None]))
    assert (s.points, s.min, s.max, s.last, s.last_at) == (4, 1.0, 3.0, None, 103.0)
    empty = series_stat(_series("e", []))
    assert (empty.points, empty.min, empty.max, empty.last, empty.last_at) == (
        0,
        None,
        None,
        None,
        None,
    )


def test_a_metric_is_summarised_over_the_runs_nodes_and_attempts() -> None:
    stats = [
        series_stat(_series("e1", [5.0, 4.0], attempt=1, t0=100)),  # first try, failed
        series_stat(_series("e1", [3.0, 2.5], attempt=2, t0=200)),  # the retry ends it
        series_stat(_series("e1", [9.0, 0.5], node="n1[0]", t0=150)),  # a map item, earlier
    ]
    [loss] = summarise_metrics(stats)["e1"].values()
    assert (loss.min, loss.max, loss.last) == (0.5, 9.0, 2.5)
    assert (loss.points, loss.series) == (6, 3)


def test_last_is_none_when_the_run_ended_on_nan() -> None:
    [acc] = summarise_metrics([series_stat(_series("e1", [0.5, None]))])["e1"].values()
    assert acc.last is None and acc.min == acc.max == 0.5


def test_table_columns_default_to_every_metric_and_input() -> None:
    runs = [_run("a", lr=0.1, epochs=3), _run("b", lr=0.01, epochs=3)]
    stats = [
        series_stat(_series("a", [1.0, 0.4])),
        series_stat(_series("b", [0.8], name="acc")),
    ]
    table = runs_table("wf", runs, stats)
    assert table.metrics == table.available_metrics == ["acc", "loss"]
    assert table.inputs == ["epochs", "lr"]
    row_a = table.rows[0]
    assert row_a.inputs == {"epochs": "3", "lr": "0.1"}
    assert set(row_a.metrics) == {"loss"}  # a run without the metric: no entry
    chosen = runs_table("wf", runs, stats, metrics=["loss"], inputs=["lr"])
    assert chosen.metrics == ["loss"] and chosen.inputs == ["lr"]
    assert chosen.available_metrics == ["acc", "loss"]
    assert chosen.rows[1].metrics == {}


def test_sorting_by_a_metric_puts_runs_without_it_last_both_ways() -> None:
    runs = [_run(e, created=i) for i, e in enumerate(["a", "b", "c", "d"])]
    stats = [
        series_stat(_series("a", [0.3])),
        series_stat(_series("b", [0.1])),
        series_stat(_series("d", [0.2])),
        # c has no loss
    ]
    up = runs_table("wf", runs, stats, sort="loss:min")
    assert [r.id for r in up.rows] == ["b", "d", "a", "c"]
    down = runs_table("wf", runs, stats, sort="-loss:last")
    assert [r.id for r in down.rows] == ["a", "d", "b", "c"]


def test_sorting_by_inputs_duration_and_phase() -> None:
    runs = [
        _run("a", "failed", 1, lr=0.1),
        _run("bb", "succeeded", 2, lr=0.01),
        _run("ccc", "succeeded", 3, lr="auto"),  # a string sorts after numbers
    ]
    assert [r.id for r in runs_table("wf", runs, [], sort="lr").rows] == ["bb", "a", "ccc"]
    assert [r.id for r in runs_table("wf", runs, [], sort="-duration").rows] == ["ccc", "bb", "a"]
    assert [r.id for r in runs_table("wf", runs, [], sort="phase").rows] == ["a", "bb", "ccc"]
    assert [r.id for r in runs_table("wf", runs, []).rows] == ["ccc", "bb", "a"]  # newest first


def test_inputs_past_a_floats_range_sort_exactly() -> None:
    huge = 10**400
    runs = [_run("a", n=huge + 1), _run("b", n=huge), _run("c", n=-1.5), _run("d", n=True)]
    table = runs_table("wf", runs, [], sort="n")
    assert [r.id for r in table.rows] == ["c", "d", "b", "a"]
    assert table.rows[2].inputs["n"] == "1" + "0" * 38 + "…"  # previews stay short


def test_a_failed_run_keeps_what_it_logged() -> None:
    runs = [_run("a", "failed")]
    table = runs_table("wf", runs, [series_stat(_series("a", [2.0, 1.0]))])
    assert table.rows[0].phase == "failed"
    assert table.rows[0].metrics["loss"].last == 1.0


def test_bad_columns_and_sort_keys_say_what_to_write() -> None:
    runs = [_run("a", lr=0.1)]
    with pytest.raises(InvalidInputError, match="inputs: lr"):
        runs_table("wf", runs, [], inputs=["learning_rate"])
    with pytest.raises(InvalidInputError, match=r"cannot sort by 'loss:mean'.*loss:min"):
        runs_table("wf", runs, [series_stat(_series("a", [1.0]))], sort="loss:mean")
    assert parse_metric_column("loss:min") == ("loss", "min")
    assert parse_metric_column("val:loss") == ("val:loss", None)
    assert parse_metric_column("val:loss:max") == ("val:loss", "max")
    assert parse_metric_column("loss") == ("loss", None)
    with pytest.raises(InvalidInputError, match=r"logged 'loss:mean'; they logged: loss"):
        runs_table("wf", runs, [series_stat(_series("a", [1.0]))], metrics=["loss:mean"])
    with pytest.raises(InvalidInputError, match="no name"):
        parse_metric_column(":min")


def test_no_runs_is_an_empty_table() -> None:
    table = runs_table("wf", [], [], metrics=["loss"], inputs=["lr"])
    assert table.rows == [] and table.metrics == ["loss"]


def test_stat_record_defaults() -> None:
    assert SeriesStat(execution_id="e", node_id="n", attempt=1, name="x").points == 0


def test_a_row_shows_the_runs_name_in_its_project() -> None:
    """The table's id column is what the project calls the run (and addresses it by)."""
    named = make_execution("f0abc", name="nightly-1")
    assert [r.id for r in runs_table("wf", [named, _run("f0def")], []).rows] == [
        "nightly-1",
        "f0def",
    ]
