"""Behaviour of the SQL store beyond the conformance suite: URLs, errors, connections."""

from __future__ import annotations

import gc
import json
import os
import signal
import sqlite3
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import msgspec
import pytest
import sqlalchemy as sa

from airfoil.core import forks
from airfoil.core.errors import ConfigError, ConflictError, StoreError, TransientStoreError
from airfoil.core.history import TaskRun
from airfoil.core.records import StoreBatch, execution_head
from airfoil.store._open import open_meta_store
from airfoil.store.sql import RetryPolicy, SqlMetaStore, _connect
from airfoil.testing.conformance import make_event, make_execution
from airfoil.testing.records import make_node

pytestmark = pytest.mark.integration


@pytest.fixture(params=["sqlite", "postgresql"])
def url(request: pytest.FixtureRequest) -> str:
    """A migrated, empty database of either backend."""
    name = "sqlite_url" if request.param == "sqlite" else "pg_empty_url"
    value: str = request.getfixturevalue(name)
    return value


@pytest.fixture
def store(url: str) -> Iterator[SqlMetaStore]:
    s = SqlMetaStore(url)
    s.write(StoreBatch(execution=make_execution(), events=[make_event(seq=1)]))
    yield s
    s.close()


def _execute(url: str, sql: str) -> list[tuple[object, ...]]:
    engine = sa.create_engine(url, poolclass=sa.pool.NullPool)
    try:
        with engine.begin() as conn:
            result = conn.execute(sa.text(sql))
            return [tuple(r) for r in result] if result.returns_rows else []
    finally:
        engine.dispose()


@pytest.mark.parametrize(
    "bad",
    [
        "mysql://user@host/db",
        "sqlite://",
        "sqlite:///:memory:",
        "postgresql://postgres@127.0.0.1/test",
        "postgresql+psycopg2://postgres@127.0.0.1/test",
        "not a url",
        "",
    ],
)
def test_bad_urls_are_config_errors_naming_the_expected_forms(bad: str) -> None:
    with pytest.raises(ConfigError, match=r"sqlite:///.*postgresql\+psycopg://"):
        SqlMetaStore(bad)


def test_password_is_masked_in_messages() -> None:
    with pytest.raises(ConfigError) as info:
        SqlMetaStore("mysql://user:s3cret@host/db")
    assert "s3cret" not in str(info.value)


def test_unreachable_postgres_is_a_store_error() -> None:
    with pytest.raises(StoreError, match="cannot connect"):
        SqlMetaStore("postgresql+psycopg://postgres:pw@127.0.0.1:1/test", timeout_s=1)


def test_sqlite_file_setup(tmp_path: Path) -> None:
    path = tmp_path / "a" / "b" / "airfoil.db"
    store = SqlMetaStore(f"sqlite:///{path}")
    store.write(StoreBatch(execution=make_execution()))
    store.close()
    conn = sqlite3.connect(path)
    try:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        (text,) = conn.execute("SELECT record FROM executions").fetchone()
    finally:
        conn.close()
    assert isinstance(text, str) and json.loads(text)["id"] == "e1"  # readable JSON


def test_sqlite_directory_that_cannot_exist_is_a_config_error(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("x")
    with pytest.raises(ConfigError, match="directory"):
        SqlMetaStore(f"sqlite:///{tmp_path}/file/sub/airfoil.db")


@pytest.fixture(params=["sqlite", "postgresql"])
def own_url(request: pytest.FixtureRequest) -> str:
    """A migrated database of this test alone (its tables may be broken)."""
    if request.param == "sqlite":
        value: str = request.getfixturevalue("sqlite_url")
        return value
    new: Callable[[], str] = request.getfixturevalue("pg_new_schema")
    return new()


def test_driver_errors_become_store_errors(own_url: str) -> None:
    store = SqlMetaStore(own_url)
    try:
        store.write(StoreBatch(execution=make_execution(), events=[make_event(seq=1)]))
        _execute(own_url, "DROP TABLE events")
        with pytest.raises(StoreError, match="reading events") as info:
            store.get_events("e1")
        assert not isinstance(info.value, ConflictError)
        batch = StoreBatch(execution=make_execution(phase="x"), events=[make_event(seq=2)])
        with pytest.raises(StoreError) as info:
            store.write(batch)
        assert not isinstance(info.value, ConflictError)
        assert store.get_execution("e1").phase == "running"  # rolled back
    finally:
        store.close()


def test_sqlite_lock_timeout_is_a_store_error(sqlite_url: str) -> None:
    store = SqlMetaStore(sqlite_url, timeout_s=0.2, retry=RetryPolicy(budget_s=0))
    store.write(StoreBatch(execution=make_execution()))
    other = sqlite3.connect(sqlite_url.removeprefix("sqlite:///"), isolation_level=None)
    try:
        other.execute("BEGIN IMMEDIATE")
        with pytest.raises(TransientStoreError, match="locked"):
            store.write(StoreBatch(events=[make_event(seq=1)]))
        assert store.get_execution("e1") == make_execution()  # readers are not blocked
        other.execute("ROLLBACK")
        store.write(StoreBatch(events=[make_event(seq=1)]))
        assert [e.seq for e in store.get_events("e1")] == [1]
    finally:
        other.close()
        store.close()


def test_sqlite_lock_held_past_the_busy_timeout_is_retried(sqlite_url: str) -> None:
    store = SqlMetaStore(sqlite_url, timeout_s=0.1, retry=RetryPolicy(budget_s=30))
    store.write(StoreBatch(execution=make_execution()))
    other = sqlite3.connect(
        sqlite_url.removeprefix("sqlite:///"), isolation_level=None, check_same_thread=False
    )
    try:
        other.execute("BEGIN IMMEDIATE")
        threading.Timer(0.6, lambda: other.execute("ROLLBACK")).start()
        store.write(StoreBatch(events=[make_event(seq=1)]))  # waits the lock out
        assert [e.seq for e in store.get_events("e1")] == [1]
        assert store.retries >= 1
    finally:
        other.close()
        store.close()


def test_closed_store_raises_store_error(store: SqlMetaStore) -> None:
    store.close()
    with pytest.raises(StoreError, match="closed"):
        store.get_execution("e1")
    store.close()  # idempotent


def _app_url(pg_empty_url: str) -> tuple[str, str]:
    name = f"airfoil-test-{uuid.uuid4().hex[:8]}"
    return f"{pg_empty_url}&application_name={name}", name


def _backends(admin: sa.Engine, name: str) -> list[int]:
    with admin.connect() as conn:
        rows = conn.execute(
            sa.text("SELECT pid FROM pg_stat_activity WHERE application_name = :n"), {"n": name}
        )
        return [int(r[0]) for r in rows]


def _backends_settled(admin: sa.Engine, name: str, count: int, timeout: float = 10.0) -> list[int]:
    """The backends of ``name`` once there are ``count`` of them, or what is left after
    ``timeout`` seconds. A backend leaves ``pg_stat_activity`` when its process exits, which
    PostgreSQL does only after it reads the client's close: a few milliseconds after the client
    closed, longer on a loaded machine (seen under two test workers)."""
    deadline = time.monotonic() + timeout
    while True:
        pids = _backends(admin, name)
        if len(pids) == count or time.monotonic() > deadline:
            return pids
        time.sleep(0.05)


def test_postgres_killed_connection_recovers(pg_empty_url: str, pg_admin: sa.Engine) -> None:
    url, name = _app_url(pg_empty_url)
    store = SqlMetaStore(url)
    try:
        store.write(StoreBatch(execution=make_execution()))
        with pg_admin.connect() as conn:
            for pid in _backends(pg_admin, name):
                conn.execute(sa.text("SELECT pg_terminate_backend(:p)"), {"p": pid})
        # The lost connection is noticed, replaced and the read retried: the caller never sees it.
        assert store.get_execution("e1") == make_execution()
        assert store.retries == 1
    finally:
        store.close()


def _in_threads(n: int, target: Callable[[], object]) -> None:
    threads = [threading.Thread(target=target) for _ in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    gc.collect()


def test_postgres_connections_follow_threads(pg_empty_url: str, pg_admin: sa.Engine) -> None:
    url, name = _app_url(pg_empty_url)
    store = SqlMetaStore(url)
    try:
        store.write(StoreBatch(execution=make_execution()))
        # the 4 threads hold their connections at once (without the barrier one could end
        # before another began and hand it its kept connection: 4 backends, not 5)
        four = threading.Barrier(4)
        _in_threads(4, lambda: (store.get_execution("e1"), four.wait(10)))
        # the ended threads' connections are kept for the next threads, which open none
        kept = sorted(_backends_settled(pg_admin, name, 5))
        assert len(kept) == 5
        _in_threads(4, lambda: (store.get_execution("e1"), four.wait(10)))
        assert sorted(_backends(pg_admin, name)) == kept
        # at most IDLE_KEPT are kept: the rest of a larger burst's are closed
        many = _connect.IDLE_KEPT + 4
        barrier = threading.Barrier(many)
        _in_threads(many, lambda: (store.get_execution("e1"), barrier.wait(10)))
        assert len(_backends_settled(pg_admin, name, 1 + _connect.IDLE_KEPT)) == 1 + 8
    finally:
        store.close()
    assert _backends_settled(pg_admin, name, 0) == []  # closing the store closes the kept ones


def test_lease_threads_hold_a_connection_only_while_they_beat(
    pg_empty_url: str, pg_admin: sa.Engine
) -> None:
    """A drive's lease thread renews its lease every ttl/3 and waits in between: it hands
    its connection back for that wait (main: 4 drives' lease threads held 4 backends of
    their own, idle all but a few milliseconds of every beat). Both are checked: the
    connections the threads hold (none between beats) and the backends PostgreSQL has."""
    from airfoil.core.clock import SystemClock
    from airfoil.engine._lease import Heartbeat

    url, name = _app_url(pg_empty_url)
    store = SqlMetaStore(url)
    beats: list[Heartbeat] = []
    try:
        ids = [f"e{i}" for i in range(4)]
        for eid in ids:
            store.write(StoreBatch(execution=make_execution(eid)))
            assert store.acquire_lease(eid, "driver", time.time(), 30.0)
        assert len(_backends_settled(pg_admin, name, 1)) == 1  # the main thread's
        # drives start at different times: their beats (every 1 s) are staggered by a
        # quarter of that, so two beats meet only if a renewal takes 0.25 s (a loaded CI
        # machine: 0.2 s beats 0.05 s apart met three at a time, and kept 3 backends)
        beats = [Heartbeat(store, SystemClock(), eid, "driver", 3.0) for eid in ids]
        for beat in beats:
            beat.start()
            time.sleep(0.25)
        most, between = 0, False
        deadline = time.monotonic() + 3.0  # ~3 beats of each lease thread
        while time.monotonic() < deadline:
            most = max(most, len(_backends(pg_admin, name)))
            # no lease thread holds a connection (only the main thread does): between beats
            between = between or len(store._conns._all) <= 1
            time.sleep(0.02)
        for beat in beats:
            beat.check()  # every lease still held: they did renew
        assert between  # main: each lease thread held its connection all along
        assert most <= 3, most  # main's + one shared (+ one if two beats met); main: 5
        leases = [store.get_lease(eid) for eid in ids]
        assert all(held is not None and held[0] == "driver" for held in leases), leases
    finally:
        for beat in beats:
            beat.stop()
        store.close()


def test_a_connection_left_in_a_transaction_or_kept_too_long_is_closed_not_reused(
    pg_empty_url: str, pg_admin: sa.Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    url, name = _app_url(pg_empty_url)
    store = SqlMetaStore(url)
    seen: list[int] = []

    def backend(begin: bool = False) -> None:
        cur = store._cursor()
        cur.execute("SELECT pg_backend_pid()")
        seen.append(int(cur.fetchone()[0]))
        if begin:
            cur.execute("BEGIN")  # the thread ends inside it: its connection is not kept

    try:
        backend()  # the main thread's own connection (it stays open: the thread lives)
        main = seen.pop()
        _in_threads(1, lambda: backend(begin=True))
        _in_threads(1, backend)
        assert seen[1] != seen[0]
        assert sorted(_backends_settled(pg_admin, name, 2)) == sorted([main, seen[1]])
        _in_threads(1, backend)
        assert seen[2] == seen[1]  # kept and reused
        monkeypatch.setattr(_connect, "IDLE_REUSE_S", 0.0)
        _in_threads(1, backend)
        assert seen[3] != seen[2]  # kept too long: closed, a new one opened
        assert sorted(_backends_settled(pg_admin, name, 2)) == sorted([main, seen[3]])
    finally:
        store.close()


def test_a_thread_takes_the_connection_of_one_that_ended(store: SqlMetaStore) -> None:
    store.write(StoreBatch(execution=make_execution()))
    first: list[object] = []
    later: list[object] = []
    _in_threads(1, lambda: (store.get_execution("e1"), first.append(store._conns.local.held.dbapi)))
    _in_threads(1, lambda: (store.get_execution("e1"), later.append(store._conns.local.held.dbapi)))
    assert later[0] is first[0]
    # a connection discarded after an error is never kept
    _in_threads(1, lambda: (store._cursor(), store._conns.discard()))
    _in_threads(1, lambda: later.append(store._conns.open().dbapi))
    assert later[1] is not first[0]
    assert store.get_execution("e1") == make_execution()


def test_a_forked_child_leaves_the_parents_kept_connections_alone(store: SqlMetaStore) -> None:
    store.write(StoreBatch(execution=make_execution()))
    _in_threads(1, lambda: store.get_execution("e1"))  # leaves its connection kept
    assert store._conns._idle

    ours = {id(entry[1]) for entry in store._conns._idle}

    def child() -> None:
        assert not store._conns._idle  # the parent's: forgotten, never used here
        store.write(StoreBatch(events=[make_event(seq=2)]))
        # Drop this store's inherited connections (what the child's exit would collect), not
        # every store's: what becomes of an earlier test's is not this test's question.
        _release_abandoned(lambda dbapi: id(dbapi) in ours)
        gc.collect()

    assert _in_fork(child) == 0
    kept = store._conns._idle[-1][1]
    got: list[object] = []
    _in_threads(1, lambda: (store.get_execution("e1"), got.append(store._conns.local.held.dbapi)))
    assert got == [kept]  # the parent's kept connection still works
    assert [e.seq for e in store.get_events("e1")] == [1, 2]


def test_a_fork_leaves_another_threads_connection_to_the_parent(
    store: SqlMetaStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The fork frees the thread-locals of the parent's other threads in the child before any
    fork hook runs (the last CI's hang: a thread's connection closed in the child, its
    rollback sent on the socket the parent shares). A connection inside a transaction (which
    is never kept idle) is the case that used to be closed there."""
    store.write(StoreBatch(execution=make_execution()))
    ready, go = threading.Event(), threading.Event()
    after: list[bool] = []

    def hold() -> None:
        cur = store._cursor()
        cur.execute("BEGIN")  # inside a transaction: its thread's end would close it
        ready.set()
        go.wait(120)
        cur.execute("SELECT 1")  # the server's answer says whether it is still inside it
        after.append(_connect._idle_now(store._conns.local.held.dbapi))
        cur.execute("ROLLBACK")

    parent = os.getpid()
    closed: list[int] = []
    real = _connect._close_quietly
    monkeypatch.setattr(
        _connect, "_close_quietly", lambda proxy: (closed.append(os.getpid()), real(proxy))[1]
    )
    thread = threading.Thread(target=hold)
    thread.start()
    try:
        assert ready.wait(30)

        def child() -> None:
            assert [pid for pid in closed if pid != parent] == []

        assert _in_fork(child) == 0
    finally:
        go.set()
        thread.join(60)
    assert after == [False]  # the parent's transaction was not rolled back by the child
    assert store.get_execution("e1") == make_execution()


def _release_abandoned(which: Callable[[object], bool]) -> None:
    """In a forked child: drop the parent's store connections that the child keeps for its
    life (``forks.abandon``) whose driver connection ``which`` picks, as its exit would."""
    forks._abandoned[:] = [
        e for e in forks._abandoned if (dbapi := _dbapi_of(e)) is None or not which(dbapi)
    ]


def _dbapi_of(abandoned: object) -> object:
    """The driver connection of a store connection the child abandoned (a ``Held``, or a
    kept idle connection's ``(proxy, dbapi, since)``); None for anything else it keeps."""
    return abandoned[1] if isinstance(abandoned, tuple) else getattr(abandoned, "dbapi", None)


def _in_fork(child: Callable[[], None], timeout: float = 60) -> int:
    """Run ``child`` in a forked process; its exit code (a child still running after
    ``timeout`` seconds is killed and fails the test: a hang, not a result)."""
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child reports through its exit code
        code = 1
        try:
            child()
            code = 0
        finally:
            os._exit(code)
    deadline = time.monotonic() + timeout
    while True:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            return os.waitstatus_to_exitcode(status)
        if time.monotonic() > deadline:
            stack = _stack_of(pid)
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
            pytest.fail(
                "the forked child hung (closing or using its parent's connection?); where it "
                f"waited:\n{stack}"
            )
        time.sleep(0.05)


def _stack_of(pid: int) -> str:
    """Where a hung process waits, by ``py-spy dump`` (where it is installed), for the
    failure's message."""
    import shutil
    import subprocess

    spy = shutil.which("py-spy") or os.path.join(os.path.dirname(sys.executable), "py-spy")
    if not os.path.exists(spy):
        return "(py-spy is not installed: no stack)"
    try:
        done = subprocess.run(
            [spy, "dump", "--pid", str(pid)], capture_output=True, text=True, timeout=30
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"(py-spy failed: {exc})"
    return done.stdout + done.stderr


def test_a_forked_child_opens_its_own_connection(store: SqlMetaStore) -> None:
    def child() -> None:
        store.write(StoreBatch(events=[make_event(seq=2)]))
        # What interpreter exit would do: collect the parent's connections left in the child.
        _release_abandoned(lambda _dbapi: True)
        gc.collect()

    assert _in_fork(child) == 0
    store.write(StoreBatch(events=[make_event(seq=3)]))  # the parent's connection still works
    assert [e.seq for e in store.get_events("e1")] == [1, 2, 3]


def test_a_grandchild_opens_its_own_connection_and_leaves_the_childs_alone(
    store: SqlMetaStore,
) -> None:
    """(fork1) A forked child goes on with its parent's store (on its own connection) and
    forks in turn: the grandchild forgets the child's connections as the child forgot the
    parent's (on PostgreSQL, closing one would end the child's session)."""

    def grandchild() -> None:
        assert getattr(store._conns.local, "held", None) is None  # the child's: forgotten
        store.write(StoreBatch(events=[make_event(seq=3)]))

    def child() -> None:
        assert getattr(store._conns.local, "held", None) is None  # the parent's: forgotten
        store.write(StoreBatch(events=[make_event(seq=2)]))
        assert _in_fork(grandchild) == 0
        store.write(StoreBatch(events=[make_event(seq=4)]))  # the child's connection works

    assert _in_fork(child) == 0
    store.write(StoreBatch(events=[make_event(seq=5)]))
    assert [e.seq for e in store.get_events("e1")] == [1, 2, 3, 4, 5]


def test_a_forked_child_leaves_a_dropped_stores_connection_to_the_parent(
    pg_empty_url: str, pg_admin: sa.Engine
) -> None:
    """A connection still alive in a garbage cycle when its store was dropped unclosed (its
    ``Connections`` gone, so no store's fork hook knew it) must not be closed by a forked
    child's garbage collector: closing it sends ``ROLLBACK`` on the socket the parent still
    uses, ending the parent's transaction behind its back (or, with the parent reading the
    same socket, leaving the child waiting for an answer for ever: it hung in a test run)."""
    dropped = SqlMetaStore(pg_empty_url)
    held = dropped._conns.open()
    held.cursor.execute("SELECT pg_backend_pid()")
    (backend,) = held.cursor.fetchone()
    held.cursor.execute("BEGIN")  # the parent is inside a transaction on this connection
    cycle: list[object] = [held]
    cycle.append(cycle)  # the connection outlives its store, as garbage
    enabled = gc.isenabled()
    gc.disable()  # the parent must not collect the cycle before the fork
    try:
        del dropped, held, cycle
        assert _in_fork(gc.collect, timeout=20) == 0  # the child's collector finds the cycle
        with pg_admin.connect() as conn:
            state = conn.execute(
                sa.text("SELECT state FROM pg_stat_activity WHERE pid = :p"), {"p": backend}
            ).scalar()
        assert state == "idle in transaction"  # the child sent nothing on the parent's socket
    finally:
        gc.collect()  # the parent closes its own garbage connection
        if enabled:
            gc.enable()


def test_open_meta_store_defaults_to_sqlite_in_home(tmp_path: Path) -> None:
    home = tmp_path / "home"
    store = open_meta_store(None, str(home))
    try:
        assert isinstance(store, SqlMetaStore) and store.dialect == "sqlite"
        store.write(StoreBatch(execution=make_execution()))
    finally:
        store.close()
    assert (home / "airfoil.db").is_file()


def test_open_meta_store_opens_sql_urls(url: str, tmp_path: Path) -> None:
    store = open_meta_store(url, str(tmp_path))
    try:
        assert isinstance(store, SqlMetaStore)
        assert store.dialect == url.split(":", 1)[0].split("+", 1)[0]
    finally:
        store.close()


def test_an_events_cause_id_is_a_column_and_in_its_record(url: str) -> None:
    s = SqlMetaStore(url)
    try:
        s.write(
            StoreBatch(
                execution=make_execution(),
                events=[make_event(seq=1, cause_id=0), make_event(seq=2, cause_id=1)],
            )
        )
        assert [e.cause_id for e in s.get_events("e1")] == [0, 1]
    finally:
        s.close()
    rows = _execute(url, "SELECT seq, cause_id FROM events ORDER BY seq")
    assert rows == [(1, 0), (2, 1)]  # "what did entry 1 cause" is an indexed lookup


def test_sqlite_fence_refuses_a_stale_driver_and_leaves_the_execution_row_alone(
    tmp_path: Path,
) -> None:
    """SQLite's lease check is a read under the write lock BEGIN IMMEDIATE takes (a no-op
    update rewrote the execution's whole row, its workflow spec included, on every batch):
    a stale driver is still refused whole, and the holder's batches leave the row alone."""
    path = tmp_path / "fence.db"
    first, second = SqlMetaStore(f"sqlite:///{path}"), SqlMetaStore(f"sqlite:///{path}")
    try:
        first.write(StoreBatch(execution=make_execution()))
        raw = sqlite3.connect(path)
        raw.execute(
            "CREATE TRIGGER no_rewrite BEFORE UPDATE ON executions WHEN "
            "NEW.lease_owner IS OLD.lease_owner AND NEW.lease_expires_at IS OLD.lease_expires_at "
            "AND NEW.record IS OLD.record "
            "BEGIN SELECT raise(ABORT, 'the execution row rewritten unchanged'); END"
        )
        raw.commit()
        raw.close()
        assert first.acquire_lease("e1", "driver-1", now=0.0, ttl_s=5.0)
        assert second.acquire_lease("e1", "driver-2", now=10.0, ttl_s=5.0)  # lapsed: taken
        with pytest.raises(ConflictError, match="lease"):
            first.write(StoreBatch(events=[make_event(seq=1)], lease=("e1", "driver-1")))
        assert second.get_events("e1") == []
        for seq in (1, 2):
            second.write(StoreBatch(events=[make_event(seq=seq)], lease=("e1", "driver-2")))
        assert [e.seq for e in second.get_events("e1")] == [1, 2]
    finally:
        first.close()
        second.close()


def test_a_listing_and_a_phase_check_read_the_heads_not_the_records(
    store: SqlMetaStore, url: str
) -> None:
    """Listing executions and reading one's head never read the ``record`` column (the
    whole workflow spec) of a row that has a head (revision 0014): a record made unreadable
    behind the store's back does not disturb them (it failed before: the heads were decoded
    from the records)."""
    want = execution_head(make_execution())
    _execute(url, "UPDATE executions SET record = 'not json'")
    assert store.list_execution_heads() == [want]
    assert store.get_execution_head("e1") == want


def test_a_row_written_before_heads_existed_reads_its_head_from_the_record(
    store: SqlMetaStore, url: str
) -> None:
    """Rows written before revision 0014 have no head (NULL): the record stands in."""
    _execute(url, "UPDATE executions SET head = NULL")
    want = execution_head(make_execution())
    assert store.list_execution_heads() == [want]
    assert store.get_execution_head("e1") == want
    assert store.get_execution("e1") == make_execution()


def test_a_batch_of_task_runs_is_stored_with_its_projects_once_each(
    store: SqlMetaStore,
) -> None:
    """A flush of task runs (one statement on PostgreSQL, an executemany on SQLite): every
    field round-trips, the project comes from the execution, a run of an execution that no
    longer exists is dropped, and a run stored twice keeps its first copy."""

    def run(node: str, attempt: int = 1, *, eid: str = "e1", ok: bool = True) -> TaskRun:
        return TaskRun(
            execution_id=eid,
            node_id=node,
            attempt=attempt,
            task="mod.inc",
            version="v1",
            started_at=1_700_000_000.25,
            ended_at=1_700_000_001.5,
            ok=ok,
        )

    store.put_task_runs([run("n1"), run("n2", ok=False), run("n2", 2), run("n1", eid="gone")])
    # n1 attempt 1 is stored already; n3 comes twice in one flush: its first copy is kept
    store.put_task_runs([run("n1", ok=False), run("n3"), run("n3", ok=False)])
    got = store.execution_task_runs("e1")
    assert [(r.node_id, r.attempt, r.ok) for r in got] == [
        ("n1", 1, True),
        ("n2", 1, False),
        ("n2", 2, True),
        ("n3", 1, True),
    ]
    assert got[0] == msgspec.structs.replace(run("n1"), project="proj")
    assert store.execution_task_runs("gone") == []


def test_events_are_indexed_by_their_primary_key_only(url: str) -> None:
    """Each trivial task inserts ~4 events: no index but their key (revision 0015 dropped
    0007's ``(execution_id, cause_id)``, which no query read)."""
    engine = sa.create_engine(url, poolclass=sa.pool.NullPool)
    try:
        inspector = sa.inspect(engine)
        assert inspector.get_indexes("events") == []
        assert inspector.get_pk_constraint("events")["constrained_columns"] == [
            "execution_id",
            "seq",
        ]
    finally:
        engine.dispose()


def _pages(url: str) -> dict[str, int]:
    """Each node row's heap page (the block of its ``ctid``)."""
    engine = sa.create_engine(url, poolclass=sa.pool.NullPool)
    try:
        with engine.connect() as conn:
            rows = conn.execute(sa.text("SELECT node_id, (ctid::text::point)[0] FROM nodes"))
            return {str(node_id): int(page) for node_id, page in rows}
    finally:
        engine.dispose()


def test_a_launched_nodes_first_rewrite_stays_on_its_page(pg_empty_url: str) -> None:
    """A fan-out's launch writes its nodes side by side; each one's move to ``queued`` (the
    engine's fenced upsert, ``record`` only) must find room on the page it was written to
    (a heap-only update: no new index entry, no row moved; revision 0015's fill factor)."""
    launched = [
        msgspec.structs.replace(
            make_node("e1", f"n{i:03d}", "pending"), dynamic_spec=None, error=None, outputs=None
        )
        for i in range(101)
    ]
    queued = [msgspec.structs.replace(n, phase="queued", queued_at=10.0) for n in launched]
    store = SqlMetaStore(pg_empty_url)
    try:
        store.write(StoreBatch(execution=make_execution()))
        assert store.acquire_lease("e1", "driver", now=1.0, ttl_s=60.0)
        store.write(StoreBatch(nodes=launched))
        before = _pages(pg_empty_url)
        assert len(before) == 101
        store.write(StoreBatch(nodes=queued, lease=("e1", "driver")))
        assert store.get_nodes("e1") == queued
    finally:
        store.close()
    after = _pages(pg_empty_url)
    assert sorted(n for n, page in after.items() if page != before[n]) == []
