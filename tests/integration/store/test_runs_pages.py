"""The experiment table's pages and filters (issue 15) on every metadata store: paging past
5,000 runs with ``offset``/``next_offset``, and ``where`` filters on inputs, metrics and a
run's own columns that read older runs chunk by chunk until a page is full (bounded), so a
filter reaches every run page by page."""

from __future__ import annotations

import json
from collections.abc import Iterator

import msgspec
import pytest

from airfoil.core.errors import InvalidInputError
from airfoil.core.metrics import MetricSeries
from airfoil.core.records import Value
from airfoil.server import _experiments as exps
from airfoil.store.base import MetaStore, StoreBatch
from airfoil.store.memory import MemoryMetaStore
from airfoil.store.sql import SqlMetaStore
from airfoil.testing.records import make_execution

pytestmark = pytest.mark.integration

N = 25  # runs r00 (oldest) .. r24 (newest): input i, loss logged as [1.0, i / 25]


@pytest.fixture(params=["memory", "sqlite", "postgres"])
def store(request: pytest.FixtureRequest) -> Iterator[MetaStore]:
    if request.param == "memory":
        s: MetaStore = MemoryMetaStore()
    elif request.param == "sqlite":
        s = SqlMetaStore(request.getfixturevalue("sqlite_url"))
    else:
        s = SqlMetaStore(request.getfixturevalue("pg_empty_url"))
    yield s
    s.close()


def _json(v: object) -> Value:
    data = json.dumps(v).encode()
    return Value(hash=f"h{v}", format="json", inline=data, size=len(data))


def _fill(store: MetaStore, n: int, *, metrics: bool = True) -> list[str]:
    ids = []
    for i in range(n):
        eid = f"r{i:05d}"
        rec = make_execution(
            eid, name=eid, created_at=1_000.0 + i, project="p", workflow="w.train"
        )  # named as its id: the runs table shows a run by its name
        phase = "failed" if i % 5 == 4 else "succeeded"
        rec = msgspec.structs.replace(rec, phase=phase, inputs={"i": _json(i)})
        store.write(StoreBatch(execution=rec))
        if metrics:
            store.put_metric_series(
                [
                    MetricSeries(
                        execution_id=eid,
                        node_id="n0",
                        attempt=1,
                        task="w.step",
                        name="loss",
                        steps=[0, 1],
                        values=[1.0, i / n],
                        times=[1.0, 2.0],
                    )
                ]
            )
        ids.append(eid)
    return ids[::-1]  # newest first


def _ids(t: object) -> list[str]:
    return [r.id for r in t.rows]  # type: ignore[attr-defined]


def test_pages_without_filters_chain_to_the_oldest_run(store: MetaStore) -> None:
    newest_first = _fill(store, N, metrics=False)
    first = exps.runs(store, "p", "w.train", last=10)
    assert _ids(first) == newest_first[:10]
    assert (first.offset, first.next_offset, first.total, first.scanned) == (0, 10, N, 10)
    second = exps.runs(store, "p", "w.train", last=10, offset=first.next_offset or 0)
    third = exps.runs(store, "p", "w.train", last=10, offset=second.next_offset or 0)
    assert _ids(second) + _ids(third) == newest_first[10:]
    assert third.next_offset is None and third.scanned == 5
    # a page is sorted within itself; past the end: empty, no next page
    assert _ids(exps.runs(store, "p", "w.train", last=10, offset=10, sort="i")) == sorted(
        newest_first[10:20]
    )
    beyond = exps.runs(store, "p", "w.train", offset=1000)
    assert beyond.rows == [] and beyond.next_offset is None and beyond.total == N


def test_filters_read_older_runs_until_the_page_is_full(
    store: MetaStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(exps, "CHUNK", 4)  # pages cross chunk boundaries
    newest_first = _fill(store, N)
    low = [e for e in newest_first if int(e[1:]) / N < 0.3]  # loss:min < 0.3: i in 0..7
    assert len(low) == 8
    got, offset, pages = [], 0, 0
    while True:
        t = exps.runs(store, "p", "w.train", last=3, offset=offset, where=["loss:min<0.3"])
        assert t.where == ["loss:min<0.3"] and len(t.rows) <= 3
        assert all(
            r.metrics["loss"].min is not None and r.metrics["loss"].min < 0.3 for r in t.rows
        )
        got += _ids(t)
        pages += 1
        if t.next_offset is None:
            break
        assert t.next_offset > offset
        offset = t.next_offset
    assert got == low and pages == 3  # each once, newest first, none skipped
    # the first page read from the newest down to the third match (r00005): 20 runs
    first = exps.runs(store, "p", "w.train", last=3, where=["loss:min<0.3"])
    assert first.scanned == newest_first.index(low[2]) + 1 == first.next_offset
    # inputs, the run's own columns, several filters (all must hold), text and != values
    both = exps.runs(store, "p", "w.train", last=50, where=["i>=10", "i<15", "phase=failed"])
    assert _ids(both) == ["r00014"]
    assert _ids(exps.runs(store, "p", "w.train", last=50, where=["i=3"])) == ["r00003"]
    assert len(exps.runs(store, "p", "w.train", last=50, where=["phase!=failed"]).rows) == 20
    assert _ids(exps.runs(store, "p", "w.train", last=50, where=["loss:last>=0.95"])) == ["r00024"]
    # 'loss' alone is its last value; a value no run has: an empty page, the scan complete
    assert _ids(exps.runs(store, "p", "w.train", where=["loss>0.9"])) == ["r00024", "r00023"]
    none = exps.runs(store, "p", "w.train", where=["i>1000"])
    assert none.rows == [] and none.next_offset is None and none.scanned == N


def test_a_filtered_page_reads_at_most_max_scan_runs(
    store: MetaStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(exps, "CHUNK", 4)
    monkeypatch.setattr(exps, "MAX_SCAN", 10)
    _fill(store, N)
    t = exps.runs(store, "p", "w.train", last=5, where=["i<2"])
    assert t.rows == [] and t.scanned == 10 and t.next_offset == 10
    t = exps.runs(store, "p", "w.train", last=5, offset=20, where=["i<2"])
    assert _ids(t) == ["r00001", "r00000"] and t.next_offset is None


def test_bad_filters_and_offsets_say_what_to_write(store: MetaStore) -> None:
    _fill(store, 3)
    for where, message in (
        (["loss"], "KEY OP VALUE"),
        (["<3"], "KEY OP VALUE"),
        (["i<"], "KEY OP VALUE"),
        (["i<true"], "needs a number"),
        (["i<[1]"], "needs a number"),
        (["los:min<1"], r"names 'los', which none of the runs read has: use one of .*loss"),
        (["x=1"], "use one of duration, i, id, loss, phase, started"),
    ):
        with pytest.raises(InvalidInputError, match=message):
            exps.runs(store, "p", "w.train", where=where)
    with pytest.raises(InvalidInputError, match="--offset must be 0 or more"):
        exps.runs(store, "p", "w.train", offset=-1)


def test_paging_past_5000_runs() -> None:
    store = MemoryMetaStore()
    newest_first = _fill(store, 6_001, metrics=False)
    first = exps.runs(store, "p", "w.train", last=exps.MAX_RUNS)
    assert len(first.rows) == 5_000 and first.next_offset == 5_000 and first.total == 6_001
    rest = exps.runs(store, "p", "w.train", last=exps.MAX_RUNS, offset=5_000)
    assert _ids(first) + _ids(rest) == newest_first and rest.next_offset is None
    old = exps.runs(store, "p", "w.train", last=10, where=["i<3"])
    assert _ids(old) == ["r00002", "r00001", "r00000"] and old.scanned == 6_001
