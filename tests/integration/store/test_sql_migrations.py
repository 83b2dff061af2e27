"""Alembic migrations of the SQL store, on SQLite and PostgreSQL."""

from __future__ import annotations

import multiprocessing
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory

from airfoil.core.errors import StoreError
from airfoil.core.records import StoreBatch
from airfoil.store.sql import SqlMetaStore, _schema, downgrade, migrate
from airfoil.store.sql._migrate import migrations_dir
from airfoil.testing.conformance import make_execution

pytestmark = pytest.mark.integration

TABLES = {
    "executions",
    "execution_specs",
    "nodes",
    "attempts",
    "events",
    "cache_entries",
    "cache_reservations",
    "schedules",
    "project_quotas",
    "queue_snapshots",
    "task_runtimes",
    "control_messages",
    "metric_series",
    "failures",
    "task_runs",
    "cache_scopes",
    "cache_scope_members",
    "server_projects",
    "server_packages",
    "server_entities",
    "server_launch_plans",
    "server_api_keys",
    "server_control",
    "server_secrets",
    "server_package_projects",
    "server_artifact_versions",
    "server_artifact_aliases",
    "server_artifact_moves",
    "server_deployments",
    "server_deployment_epochs",
    "server_admission_authority",
    "server_admission_requests",
}


@pytest.fixture(params=["sqlite", "postgresql"])
def empty_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """An empty database: a new SQLite file, or a new PostgreSQL schema."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path}/fresh/airfoil.db"
    new: Callable[[], str] = request.getfixturevalue("pg_new_schema")
    return new()


def _tables(url: str) -> set[str]:
    engine = sa.create_engine(url, poolclass=sa.pool.NullPool)
    try:
        return set(sa.inspect(engine).get_table_names())
    finally:
        engine.dispose()


def _scalar(url: str, sql: str) -> object:
    engine = sa.create_engine(url, poolclass=sa.pool.NullPool)
    try:
        with engine.begin() as conn:
            result = conn.execute(sa.text(sql))
            return result.scalar() if result.returns_rows else None
    finally:
        engine.dispose()


def test_known_revisions_are_the_scripts() -> None:
    scripts = ScriptDirectory(migrations_dir())
    oldest_first = [r.revision for r in reversed(list(scripts.walk_revisions()))]
    assert tuple(oldest_first) == _schema.KNOWN_REVISIONS
    assert scripts.get_current_head() == _schema.HEAD_REVISION


def test_upgrade_downgrade_upgrade(empty_url: str) -> None:
    migrate(empty_url)
    assert _tables(empty_url) == TABLES | {"alembic_version"}
    assert _scalar(empty_url, "SELECT version_num FROM alembic_version") == _schema.HEAD_REVISION
    downgrade(empty_url, "base")
    assert _tables(empty_url) == {"alembic_version"}
    assert _scalar(empty_url, "SELECT count(*) FROM alembic_version") == 0
    migrate(empty_url)
    store = SqlMetaStore(empty_url)
    try:
        store.write(StoreBatch(execution=make_execution()))
        assert store.get_execution("e1") == make_execution()
    finally:
        store.close()


def test_migrated_schema_matches_the_code(empty_url: str) -> None:
    from airfoil.store.sql._server_tables import meta as server_metadata

    def only(prefix: bool, dialect: str) -> Callable[..., bool]:
        def include(obj: object, name: str | None, kind: str, *_: object) -> bool:
            table = name if kind == "table" else getattr(getattr(obj, "table", None), "name", "")
            # A constraint of some dialects only (0018's keys: SQLite's), which Alembic
            # compares with every database regardless.
            only_on = getattr(getattr(obj, "_ddl_if", None), "dialect", None)
            if only_on is not None:
                on = (only_on,) if isinstance(only_on, str) else tuple(only_on)
                if dialect not in on:
                    return False
            return str(table).startswith("server_") == prefix

        return include

    migrate(empty_url)
    engine = sa.create_engine(empty_url, poolclass=sa.pool.NullPool)
    name = engine.dialect.name
    try:
        with engine.connect() as conn:
            for metadata, server in ((_schema.metadata, False), (server_metadata, True)):
                opts = {"compare_type": True, "include_object": only(server, name)}
                context = MigrationContext.configure(conn, opts=opts)
                assert compare_metadata(context, metadata) == []
    finally:
        engine.dispose()


def test_a_database_whose_server_made_its_tables_upgrades(empty_url: str) -> None:
    """Servers before revision 0004 created their tables themselves: upgrading keeps them."""
    from airfoil.store.sql._server_tables import meta as server_metadata

    migrate(empty_url, "0003")
    engine = sa.create_engine(empty_url, poolclass=sa.pool.NullPool)
    try:
        server_metadata.tables["server_projects"].create(engine)
        with engine.begin() as conn:
            conn.execute(sa.text("INSERT INTO server_projects VALUES ('kept', '', 1.0)"))
    finally:
        engine.dispose()
    migrate(empty_url)
    assert _tables(empty_url) == TABLES | {"alembic_version"}
    assert _scalar(empty_url, "SELECT name FROM server_projects") == "kept"


def test_opening_a_store_migrates_an_empty_or_old_database(empty_url: str) -> None:
    SqlMetaStore(empty_url).close()
    assert _scalar(empty_url, "SELECT version_num FROM alembic_version") == _schema.HEAD_REVISION
    downgrade(empty_url, "base")
    store = SqlMetaStore(empty_url)
    try:
        store.write(StoreBatch(execution=make_execution()))
    finally:
        store.close()


def test_opening_a_database_at_head_does_not_import_alembic(empty_url: str) -> None:
    migrate(empty_url)
    code = (
        "import sys\n"
        "from airfoil.store.sql import SqlMetaStore\n"
        f"SqlMetaStore({empty_url!r}).close()\n"
        "print('alembic' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_a_newer_database_is_refused(empty_url: str) -> None:
    migrate(empty_url)
    _scalar(empty_url, "UPDATE alembic_version SET version_num = '9999'")
    with pytest.raises(StoreError, match="does not know"):
        SqlMetaStore(empty_url)
    with pytest.raises(StoreError):
        migrate(empty_url)


def _open_store(url: str, barrier: object) -> None:
    barrier.wait(timeout=120)  # type: ignore[attr-defined]
    SqlMetaStore(url).close()


def test_processes_opening_a_fresh_database_migrate_it_once(empty_url: str) -> None:
    ctx = multiprocessing.get_context("spawn")
    barrier = ctx.Barrier(3)
    procs = [ctx.Process(target=_open_store, args=(empty_url, barrier)) for _ in range(3)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(timeout=180)
    assert [p.exitcode for p in procs] == [0, 0, 0]
    assert _scalar(empty_url, "SELECT count(*) FROM alembic_version") == 1
    assert _tables(empty_url) == TABLES | {"alembic_version"}


def test_series_stored_before_0012_get_their_summaries(empty_url: str) -> None:
    """Revision 0012 fills ``min_value``/``max_value``/``last_at`` of rows stored before it
    from their JSON (a NaN point is no min; the runs table then reads them as columns)."""
    migrate(empty_url, "0011")
    migrate(empty_url, "0011")  # at 0011 already: nothing to do
    store_url = empty_url
    engine = sa.create_engine(store_url, poolclass=sa.pool.NullPool)
    record = (
        '{"execution_id":"e1","node_id":"n0","attempt":1,"task":"m.t","name":"loss",'
        '"steps":[0,1,2],"values":[3.0,null,1.5],"times":[10.0,11.0,12.0]}'
    )
    try:
        with engine.begin() as conn:
            conn.execute(
                sa.text(
                    "INSERT INTO executions (id, project, domain, workflow, phase, created_at, "
                    "record) VALUES ('e1', 'p', 'd', 'w', 'succeeded', 1.0, '{}')"
                )
            )
            conn.execute(
                sa.text(
                    "INSERT INTO metric_series (execution_id, node_id, attempt, name, task, "
                    "kind, points, last_value, record) VALUES ('e1', 'n0', 1, 'loss', 'm.t', "
                    "'gauge', 3, 1.5, :r)"
                ),
                {"r": record},
            )
    finally:
        engine.dispose()
    migrate(empty_url)
    store = SqlMetaStore(empty_url)
    try:
        [stat] = store.metric_stats(["e1"])
        assert (stat.points, stat.last, stat.min, stat.max, stat.last_at) == (
            3,
            1.5,
            1.5,
            3.0,
            12.0,
        )
    finally:
        store.close()


def test_executions_stored_before_0019_keep_their_names(empty_url: str) -> None:
    """Revision 0019: an execution stored before names were per project keeps its id as its
    name (addressed in its project as before), keeps its nodes and events (SQLite's column is
    added in place: no table copy whose drop would cascade), and another project may then use
    the same name."""
    from airfoil.core.errors import ConflictError
    from airfoil.core.records import encode_json
    from airfoil.testing.records import make_event, make_node

    migrate(empty_url, "0018")
    old = make_execution("nightly-1", project="alpha", domain="dev", name="")
    engine = sa.create_engine(empty_url, poolclass=sa.pool.NullPool)
    try:
        with engine.begin() as conn:
            conn.execute(
                sa.text(
                    "INSERT INTO executions (id, project, domain, workflow, phase, created_at, "
                    "record) VALUES ('nightly-1', 'alpha', 'dev', 'mod.wf', 'running', 1.0, :r)"
                ),
                {"r": encode_json(old).decode()},
            )
            conn.execute(
                sa.text("INSERT INTO nodes VALUES ('nightly-1', 'n0', :r)"),
                {"r": encode_json(make_node("nightly-1")).decode()},
            )
            conn.execute(
                sa.text("INSERT INTO events VALUES ('nightly-1', 1, :r, 0)"),
                {"r": encode_json(make_event("nightly-1", seq=1)).decode()},
            )
    finally:
        engine.dispose()
    store = SqlMetaStore(empty_url)  # migrates to the head
    try:
        assert store.resolve_execution("alpha", "nightly-1") == "nightly-1"
        assert store.get_execution("nightly-1") == old
        assert [n.node_id for n in store.get_nodes("nightly-1")] == ["n0"]
        assert [e.seq for e in store.get_events("nightly-1")] == [1]
        beta = make_execution("fbeta", project="beta", domain="dev", name="nightly-1")
        store.write(StoreBatch(execution=beta))
        assert store.resolve_execution("beta", "nightly-1") == "fbeta"
        assert store.resolve_execution("alpha", "nightly-1") == "nightly-1"
        again = make_execution("falpha", project="alpha", domain="dev", name="nightly-1")
        with pytest.raises(ConflictError, match="already exists in project 'alpha'"):
            store.write(StoreBatch(execution=again))
        # what names a run by id (a cache reason, a failure) names the old run by its id in
        # alpha, and never as beta's own nightly-1 in beta, whose name its id is
        from airfoil.store.naming import ExecutionNames

        reason = "same version and inputs as execution nightly-1 node n0"
        assert ExecutionNames(store, "alpha").text(reason) == reason
        in_beta = ExecutionNames(store, "beta")
        assert in_beta.of("nightly-1") is None and in_beta.of("fbeta") == "nightly-1"
        assert in_beta.text(reason) == reason.replace("nightly-1", "(of another project)")
    finally:
        store.close()
    downgrade(empty_url, "0018")  # and back: the column and its index go in place
    assert _scalar(empty_url, "SELECT count(*) FROM nodes") == 1


def _insert_executions(url: str, rows: list[tuple[str, float, str]], specs: Any = ()) -> None:
    """Rows ``(id, created_at, record)`` of ``executions`` as a revision before 0021 holds
    them (and ``specs``: ``(execution_id, spec)`` rows of ``execution_specs``, after it)."""
    engine = sa.create_engine(url, poolclass=sa.pool.NullPool)
    insert = sa.text(
        "INSERT INTO executions (id, project, domain, workflow, phase, created_at, record, "
        "name) VALUES (:id, 'default', 'development', 'mod.wf', 'running', :at, :r, :id)"
    )
    try:
        with engine.begin() as conn:
            if rows:
                conn.execute(insert, [{"id": i, "at": at, "r": r} for i, at, r in rows])
            for eid, spec in specs:
                q = sa.text("INSERT INTO execution_specs VALUES (:e, :s)")
                conn.execute(q, {"e": eid, "s": spec})
    finally:
        engine.dispose()


def test_0021_moves_each_spec_out_of_its_record_and_back(empty_url: str) -> None:
    """Revision 0021: an execution stored with its spec in its record (before it) keeps
    reading as the same record, its spec moved to ``execution_specs``; a downgrade puts the
    spec back, byte for byte."""
    from airfoil.core.records import encode_json

    migrate(empty_url, "0020")
    old = [make_execution(f"e{i}", created_at=float(i)) for i in range(3)]
    _insert_executions(empty_url, [(x.id, x.created_at, encode_json(x).decode()) for x in old])
    store = SqlMetaStore(empty_url)  # migrates to the head
    try:
        assert [store.get_execution(ex.id) for ex in old] == old
        assert store.list_executions() == old[::-1]
        assert store.view_execution("e1").execution == old[1]
    finally:
        store.close()
    specs = _scalar(empty_url, "SELECT count(*) FROM execution_specs")
    with_spec = _scalar(empty_url, "SELECT count(*) FROM executions WHERE record LIKE '%\"spec\"%'")
    assert (specs, with_spec) == (3, 0)
    downgrade(empty_url, "0020")
    assert _scalar(empty_url, "SELECT record FROM executions WHERE id = 'e2'") == (
        encode_json(old[2]).decode()
    )


def test_0021_leaves_a_record_that_does_not_decode_as_it_was(empty_url: str) -> None:
    """Revision 0021 on a database holding records that do not decode (not JSON, not an
    object): the upgrade moves the others' specs and leaves those rows as they were, so the
    store opens and reports them as unreadable by their id, as before the revision (it
    failed before: the upgrade raised on the first one, and the server did not start). The
    downgrade leaves them too, and a spec row that does not decode (spoiled after the
    upgrade) does not fail it either."""
    from airfoil.core.errors import UnreadableRecordError
    from airfoil.core.records import encode_json
    from airfoil.store._records import record_json

    migrate(empty_url, "0020")
    good = make_execution("e0", created_at=0.0)
    spoiled = {"e1": "not json", "e2": "[1, 2]", "e3": '"spec"'}
    rows = [("e0", 0.0, encode_json(good).decode())]
    rows += [(eid, float(i), record) for i, (eid, record) in enumerate(spoiled.items(), 1)]
    _insert_executions(empty_url, rows)
    store = SqlMetaStore(empty_url)  # migrates to the head
    try:
        assert store.get_execution("e0") == good
        for eid in spoiled:
            with pytest.raises(UnreadableRecordError):
                store.get_execution(eid)
        seen: list[UnreadableRecordError] = []
        assert store.list_executions(on_unreadable=seen.append) == [good]
        assert len(seen) == len(spoiled)
    finally:
        store.close()
    for eid, record in spoiled.items():
        got = _scalar(empty_url, f"SELECT record FROM executions WHERE id = '{eid}'")
        assert got == record
    specless = record_json(make_execution("e4")).decode()  # as 0021 stores it
    _insert_executions(empty_url, [("e4", 4.0, specless)], [("e4", "{spoiled")])
    downgrade(empty_url, "0020")
    assert _scalar(empty_url, "SELECT record FROM executions WHERE id = 'e0'") == (
        encode_json(good).decode()
    )
    assert _scalar(empty_url, "SELECT record FROM executions WHERE id = 'e1'") == "not json"


def test_0021_moves_specs_both_ways_a_batch_at_a_time(empty_url: str) -> None:
    """More executions than one batch of revision 0021 (500): every spec is moved out, and
    back by the downgrade, which reads a batch at a time too (it read every row and its spec
    at once: a big database's specs held in memory together)."""
    from airfoil.core.records import encode_json

    migrate(empty_url, "0020")
    old = [make_execution(f"e{i:04d}", created_at=float(i)) for i in range(1001)]
    _insert_executions(empty_url, [(x.id, x.created_at, encode_json(x).decode()) for x in old])
    migrate(empty_url)
    assert _scalar(empty_url, "SELECT count(*) FROM execution_specs") == len(old)
    downgrade(empty_url, "0020")
    spec = "SELECT count(*) FROM executions WHERE record LIKE '%\"spec\"%'"
    assert _scalar(empty_url, spec) == len(old)
    assert _scalar(empty_url, "SELECT record FROM executions WHERE id = 'e1000'") == (
        encode_json(old[-1]).decode()
    )
