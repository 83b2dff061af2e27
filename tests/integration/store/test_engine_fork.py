"""(adv27) The SQLAlchemy engines of the registry, artifact and admission stores across
``fork``: the fork frees the thread-locals of the parent's other threads in the child, in C,
before any fork hook runs, so a connection such a thread had checked out is returned to the
pool there -- and the pool's reset rolls back on the socket (PostgreSQL) or the file
(SQLite) the child shares with the parent. The parent's transaction must survive the child."""

from __future__ import annotations

import gc
import os
import threading
import uuid
from collections.abc import Callable
from pathlib import Path

import pytest
import sqlalchemy as sa

from airfoil.store.sql._guard import store_engine

pytestmark = pytest.mark.integration


@pytest.fixture(params=["sqlite", "postgresql"])
def engine_url(
    request: pytest.FixtureRequest, tmp_path: Path, pg_new_schema: Callable[[], str]
) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'store.db'}"
    return pg_new_schema()


def _in_fork(child: Callable[[], None]) -> int:
    """Run ``child`` in a forked process (which then exits without its parent's exit hooks);
    its exit code."""
    pid = os.fork()
    if pid == 0:
        code = 0
        try:
            child()
        except BaseException:
            code = 1
        os._exit(code)
    _, status = os.waitpid(pid, 0)
    return os.waitstatus_to_exitcode(status)


def _child_work(engine: sa.Engine, table: str) -> Callable[[], None]:
    """What a forked child would do: read through the engine it inherited, then release it
    (a store's ``close``)."""

    def work() -> None:
        gc.collect()  # the thread's connection is in a cycle with its transaction
        with engine.connect() as conn:
            conn.execute(sa.text(f"SELECT count(*) FROM {table}")).scalar_one()
        engine.dispose()

    return work


@pytest.mark.parametrize("child_works", [False, True], ids=["child-exits", "child-uses-engine"])
@pytest.mark.parametrize("pool_full", [False, True], ids=["room", "full"])
def test_a_forked_child_leaves_another_threads_transaction_alone(
    engine_url: str, child_works: bool, pool_full: bool
) -> None:
    """A thread is inside a transaction (its connection only in its thread-local) when another
    thread forks; the child exits, or uses the engine and disposes of it. On main the child
    rolled the parent's transaction back, or closed its connection: on PostgreSQL the first
    row was lost (the child exits) or the parent's session ended ("server closed the
    connection", the child disposes); on SQLite the parent's next insert failed with "disk
    I/O error" (the shared WAL index rolled back under it). With the pool ``full``
    (PostgreSQL: one slot, taken by an idle connection) the pool closes what is returned to
    it: the child must not close the parent's connection either."""
    engine = store_engine(engine_url, pool_size=1, max_overflow=1)
    table = f"fork_{uuid.uuid4().hex[:8]}"
    with engine.begin() as conn:
        conn.execute(sa.text(f"CREATE TABLE {table} (n INTEGER)"))
    with engine.connect() as conn:  # a pooled idle connection the child could take
        conn.execute(sa.text(f"SELECT count(*) FROM {table}")).scalar_one()
    local = threading.local()
    inside, forked, done = threading.Event(), threading.Event(), threading.Event()
    errors: list[BaseException] = []

    def hold() -> None:
        try:
            local.conn = engine.connect()
            local.conn.begin()
            local.conn.execute(sa.text(f"INSERT INTO {table} VALUES (1)"))
            inside.set()
            forked.wait(60)
            local.conn.execute(sa.text(f"INSERT INTO {table} VALUES (2)"))
            local.conn.commit()
            local.conn.close()
        except BaseException as exc:
            errors.append(exc)
        finally:
            done.set()

    thread = threading.Thread(target=hold)
    first = engine.connect() if pool_full else None  # the thread's is then the overflow
    thread.start()
    try:
        assert inside.wait(30)
        if first is not None:
            first.close()  # the pool's one slot: taken
        assert _in_fork(_child_work(engine, table) if child_works else gc.collect) == 0
    finally:
        forked.set()
        thread.join(60)
    assert not errors, errors
    with engine.connect() as conn:
        rows = conn.execute(sa.text(f"SELECT n FROM {table} ORDER BY n")).scalars().all()
    assert rows == [1, 2]
    engine.dispose()


def test_a_connection_returned_in_its_own_process_is_still_rolled_back(engine_url: str) -> None:
    """The engines reset returned connections themselves now (``pool_reset_on_return=None``
    and a reset listener): in the process that opened it, an unfinished transaction is still
    rolled back on return, and the connection serves the next checkout."""
    engine = store_engine(engine_url, pool_size=1, max_overflow=0)
    table = f"reset_{uuid.uuid4().hex[:8]}"
    with engine.begin() as conn:
        conn.execute(sa.text(f"CREATE TABLE {table} (n INTEGER)"))
    conn = engine.connect()
    conn.begin()
    conn.execute(sa.text(f"INSERT INTO {table} VALUES (1)"))
    conn.close()  # returned inside the transaction
    with engine.connect() as conn:
        assert conn.execute(sa.text(f"SELECT count(*) FROM {table}")).scalar_one() == 0
    engine.dispose()
