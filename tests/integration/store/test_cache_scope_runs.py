"""Named cache scopes are shared only between their members, on every store (memory, SQLite,
PostgreSQL): the adversarial half of ``cache_scope=``.

Before revision 0020 a scope had no members: any project whose task named it read and wrote
its entries, so project beta could read alpha's shared results and, by registering a task of
the same name and pinned ``cache_version``, write its own results under alpha's keys (alpha's
next run hit them). These tests fail on main where they use ``cache_scopes_declared_only``,
``create_cache_scope`` or ``grant_cache_scope`` (none existed); the behaviours they pin are
the members' rules of docs/caching.md.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

import airfoil as af
from airfoil.core.errors import CacheScopeAccessError
from airfoil.core.records import ExecutionRecord
from airfoil.engine.local import spec_of
from airfoil.engine.runner import Engine, EngineSettings
from airfoil.executors.inline import InlineExecutor
from airfoil.runtime.worker import WorkerRuntime
from airfoil.store.base import MetaStore
from airfoil.store.blob import open_blob_store
from airfoil.store.memory import MemoryMetaStore
from airfoil.store.sql import SqlMetaStore
from airfoil.types import ValueContext, default_type_engine

pytestmark = pytest.mark.integration

CALLS: list[str] = []


@af.task(cache=True, cache_version="1", cache_scope="features", name="feat.double")
def double(x: int) -> int:
    CALLS.append(f"double({x})")
    return 2 * x


@af.workflow
def alpha_flow(x: int = 3) -> int:
    return double(x=x)


# beta's own task of the same name and pinned version: the same key, another body
@af.task(cache=True, cache_version="1", cache_scope="features", name="feat.double")
def poisoned(x: int) -> int:
    CALLS.append(f"poisoned({x})")
    return 666


@af.workflow
def beta_flow(x: int = 3) -> int:
    return poisoned(x=x)


@af.workflow
def beta_map(xs: list[int]) -> list[int]:
    return af.map_task(poisoned)(x=xs)


@pytest.fixture(params=["memory", "sqlite", "postgresql"])
def meta(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[MetaStore]:
    if request.param == "memory":
        store: MetaStore = MemoryMetaStore()
    elif request.param == "sqlite":
        store = SqlMetaStore(request.getfixturevalue("sqlite_url"))
    else:
        store = SqlMetaStore(request.getfixturevalue("pg_empty_url"))
    yield store
    store.close()


Run = Callable[..., ExecutionRecord]


@pytest.fixture
def run(meta: MetaStore, tmp_path: Path) -> Run:
    blobs = open_blob_store(str(tmp_path / "blobs"))
    types = default_type_engine()
    CALLS.clear()

    def go(
        project: str,
        wf: object,
        declared_only: bool = True,
        between: Callable[[], object] | None = None,
        **inputs: object,
    ) -> ExecutionRecord:
        """Launch ``wf`` in ``project`` and drive it (``between``: called in between)."""
        settings = EngineSettings(project=project, cache_scopes_declared_only=declared_only)
        executor = InlineExecutor(blobs, WorkerRuntime(codecs=types))
        engine = Engine(
            meta,
            blobs,
            executor,
            blob_url=str(tmp_path / "blobs"),
            types=types,
            settings=settings,
        )
        spec = spec_of(wf)  # type: ignore[arg-type]
        ctx = ValueContext(blobs=blobs)
        args = {
            k: types.to_value(v, list[int] if isinstance(v, list) else int, ctx)
            for k, v in inputs.items()
        }
        ex = engine.launch(spec, args)
        if between is not None:
            between()
        return engine.drive(ex.id)

    return go


def _output(meta: MetaStore, ex: ExecutionRecord) -> object:
    node = meta.get_node(ex.id, "n0")
    assert node is not None and node.outputs is not None
    inline = node.outputs["o0"].inline
    assert inline is not None
    return json.loads(inline)


def test_an_undeclared_scope_stays_open_locally(meta: MetaStore, run: Run) -> None:
    """One user's local home: no admin, no declaration; every project shares, as before."""
    assert run("alpha", alpha_flow, declared_only=False, x=3).phase == "succeeded"
    again = run("beta", alpha_flow, declared_only=False, x=3)
    assert meta.get_node(again.id, "n0").cache_status == "hit"  # type: ignore[union-attr]


def test_a_server_refuses_an_undeclared_scope(meta: MetaStore, run: Run) -> None:
    with pytest.raises(CacheScopeAccessError) as err:
        run("alpha", alpha_flow, x=3)  # refused at launch: nothing recorded
    assert "project 'alpha' may not use cache scope 'features'" in str(err.value)
    assert "airfoil cache scopes grant features alpha" in str(err.value)
    assert meta.list_executions() == []
    # the engine's own check: a scope deleted between the launch and the drive
    meta.create_cache_scope("features", 1.0)
    meta.grant_cache_scope("features", "alpha", "write", 1.0)
    ex = run("alpha", alpha_flow, between=lambda: meta.delete_cache_scope("features"), x=3)
    assert ex.phase == "failed" and ex.error is not None
    assert ex.error.type == "CacheScopeAccessError"
    assert "project 'alpha' may not use cache scope 'features'" in ex.error.message
    assert CALLS == [] and meta.list_cache() == []  # nothing ran, nothing was cached


def test_a_non_member_can_neither_read_nor_write(meta: MetaStore, run: Run) -> None:
    meta.create_cache_scope("features", 1.0)
    meta.grant_cache_scope("features", "alpha", "write", 1.0)
    assert run("alpha", alpha_flow, x=3).phase == "succeeded"
    assert CALLS == ["double(3)"]
    # alpha's entry is there: a member would hit it
    with pytest.raises(CacheScopeAccessError) as err:
        run("beta", beta_flow, x=3)
    # the refusal names neither alpha nor what it cached
    assert "alpha" not in str(err.value) and "6" not in str(err.value)
    assert CALLS == ["double(3)"]  # beta's body never ran
    assert len(meta.list_cache()) == 1  # alpha's entry, untouched


def test_a_reader_hits_but_never_writes_into_the_scope(meta: MetaStore, run: Run) -> None:
    meta.create_cache_scope("features", 1.0)
    meta.grant_cache_scope("features", "alpha", "write", 1.0)
    meta.grant_cache_scope("features", "beta", "read", 1.0)
    alpha = run("alpha", alpha_flow, x=3)
    beta = run("beta", beta_flow, x=3)
    assert _output(meta, beta) == 6  # alpha's result, read by a member
    assert meta.get_node(beta.id, "n0").cache_status == "hit"  # type: ignore[union-attr]
    # A miss: beta's (poisoned) body runs and its run gets its own result...
    miss = run("beta", beta_flow, x=4)
    assert miss.phase == "succeeded" and _output(meta, miss) == 666
    node = meta.get_node(miss.id, "n0")
    assert node is not None and node.cache_status == "miss"
    assert "may only read cache scope 'features'" in node.cache_reason
    # ...which never enters the scope: alpha computes its own.
    later = run("alpha", alpha_flow, x=4)
    assert _output(meta, later) == 8
    assert meta.get_node(later.id, "n0").cache_status == "put"  # type: ignore[union-attr]
    assert CALLS == ["double(3)", "poisoned(4)", "double(4)"]
    assert {e.execution_id for e in meta.list_cache()} == {alpha.id, later.id}


def test_a_readers_map_items_are_not_written(meta: MetaStore, run: Run) -> None:
    meta.create_cache_scope("features", 1.0)
    meta.grant_cache_scope("features", "beta", "read", 1.0)
    ex = run("beta", beta_map, xs=[1, 2, 3])
    assert ex.phase == "succeeded"
    assert meta.list_cache() == []


def test_a_revoked_member_loses_access(meta: MetaStore, run: Run) -> None:
    meta.create_cache_scope("features", 1.0)
    meta.grant_cache_scope("features", "beta", "write", 1.0)
    assert run("beta", beta_flow, x=3).phase == "succeeded"
    # revoked after its launch, before its drive: the drive's lookup refuses it
    revoke = lambda: meta.revoke_cache_scope("features", "beta")  # noqa: E731
    again = run("beta", beta_flow, between=revoke, x=3)
    assert again.phase == "failed" and again.error is not None
    assert again.error.type == "CacheScopeAccessError"
    with pytest.raises(CacheScopeAccessError):  # and its next launch
        run("beta", beta_flow, x=3)
    # and a write member downgraded to read writes no more
    meta.grant_cache_scope("features", "beta", "read", 2.0)
    assert run("beta", beta_flow, x=5).phase == "succeeded"
    assert len(meta.list_cache()) == 1


def test_every_project_as_a_reader(meta: MetaStore, run: Run) -> None:
    meta.create_cache_scope("features", 1.0)
    meta.grant_cache_scope("features", "alpha", "write", 1.0)
    meta.grant_cache_scope("features", "*", "read", 1.0)
    run("alpha", alpha_flow, x=3)
    for project in ("beta", "gamma"):
        ex = run(project, beta_flow, x=3)
        assert _output(meta, ex) == 6
    assert run("gamma", beta_flow, x=9).phase == "succeeded"
    assert len(meta.list_cache()) == 1


REVOKE: list[MetaStore] = []


@af.task(cache=True, cache_version="1", cache_scope="features", name="feat.revoking")
def revoking(x: int) -> int:
    """Revokes its own project's membership while it runs (the inline executor: this
    process, the test's store), then outlives the gate's 2 s."""
    REVOKE[0].revoke_cache_scope("features", "beta")
    time.sleep(2.2)
    return x


@af.workflow
def revoked_mid_run(x: int = 1) -> int:
    return double(x=revoking(x=x))


def test_a_member_revoked_mid_run_writes_nothing_more_and_fails(meta: MetaStore, run: Run) -> None:
    """The revocation reaches a running execution within 2 s: the result of the task that
    was running is not written (checked again at commit), and the next lookup in the scope
    fails the run."""
    meta.create_cache_scope("features", 1.0)
    meta.grant_cache_scope("features", "beta", "write", 1.0)
    REVOKE[:] = [meta]
    ex = run("beta", revoked_mid_run, x=7)
    assert ex.phase == "failed" and ex.error is not None
    assert ex.error.type == "CacheScopeAccessError"
    assert meta.list_cache() == []  # revoking(7)'s result was not written
    assert "double(7)" not in CALLS


def test_a_former_members_explain_shows_nothing_of_the_scope(
    meta: MetaStore, run: Run, tmp_path: Path
) -> None:
    """``cache explain`` of a node of beta's that used the scope, after beta was revoked:
    the scope's entries today are not beta's to see, neither the one its own run wrote nor
    alpha's (on main: ``entry_now`` named an entry, ``miss_now`` compared the key with
    alpha's entries, as for a member)."""
    from airfoil.engine.cache_explain import explain_node

    blobs = open_blob_store(str(tmp_path / "blobs"))
    meta.create_cache_scope("features", 1.0)
    meta.grant_cache_scope("features", "alpha", "write", 1.0)
    meta.grant_cache_scope("features", "beta", "write", 1.0)
    mine = run("beta", beta_flow, x=3)  # beta's entry for x=3
    theirs = run("alpha", alpha_flow, x=4)  # alpha's for x=4
    member = explain_node(meta, blobs, mine.id, "n0", declared_only=True)
    assert member["entry_now"]["execution_id"] == mine.id and member["scope_closed"] is None
    meta.revoke_cache_scope("features", "beta")
    closed = explain_node(meta, blobs, mine.id, "n0", declared_only=True)
    assert closed["entry_now"] is None and closed["miss_now"] is None
    assert closed["code_changes"] is None
    assert closed["scope_closed"] == (
        "project 'beta' may not read cache scope 'features' now: its entries are not shown "
        "(ask an admin to run `airfoil cache scopes grant features beta --read` to read them)"
    )
    assert closed["parts"]["scope"] == "shared:features"  # the node's own key, as it was
    # the same words whether or not an entry is there now: nothing of the scope leaks
    meta.delete_cache(key=member["key"])
    assert explain_node(meta, blobs, mine.id, "n0", declared_only=True) == closed
    assert theirs.id not in json.dumps(closed)
    # a reader may read the scope: it is shown what is there (alpha's x=4 entry differs)
    meta.grant_cache_scope("features", "beta", "read", 2.0)
    reader = explain_node(meta, blobs, mine.id, "n0", declared_only=True)
    assert reader["scope_closed"] is None
    assert reader["miss_now"] == "input 'x' changed since the last cached run"
    # a local home (declared_only=False): an undeclared scope is open to every project
    meta.delete_cache_scope("features")
    assert explain_node(meta, blobs, mine.id, "n0", declared_only=False)["scope_closed"] is None
    assert explain_node(meta, blobs, mine.id, "n0", declared_only=True)["scope_closed"]
