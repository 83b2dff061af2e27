"""Fixtures shared by the integration tests on real databases: a migrated SQLite template,
and fresh PostgreSQL schemas on the real server at 127.0.0.1:5432.

PostgreSQL is required: when it cannot be reached the PostgreSQL tests fail with how to
start it, unless ``AIRFOIL_SKIP_PG=1``. Every schema is made for this session and dropped at
its end, so parallel sessions never collide.
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import _ray_cluster
import pytest
import sqlalchemy as sa
from _ray_cluster import RayHead, nodes_key
from _ray_order import Grouping, order_by_nodes
from _tier_times import shared_ray

from airfoil.server._replica_limits import pid_alive
from airfoil.store.sql import migrate

PG_URL = os.environ.get("AIRFOIL_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
PG_HELP = (
    "PostgreSQL is not reachable at {url} ({error}). Start it with\n"
    "    pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start\n"
    "or point AIRFOIL_TEST_PG_URL at a server (trust auth, database 'test'); "
    "set AIRFOIL_SKIP_PG=1 to skip the PostgreSQL tests."
)


def with_search_path(url: str, schema: str) -> str:
    """``url`` with its connections confined to ``schema``."""
    sep = "&" if "?" in url else "?"
    return f"{url}{sep}options=-csearch_path%3D{schema}"


@pytest.fixture(scope="session")
def pg_admin() -> Iterator[sa.Engine]:
    """An engine on the test database, outside any test schema."""
    if os.environ.get("AIRFOIL_SKIP_PG") == "1":
        pytest.skip("AIRFOIL_SKIP_PG=1")
    engine = sa.create_engine(
        PG_URL, poolclass=sa.pool.NullPool, connect_args={"connect_timeout": 5}
    )
    error = None
    try:
        with engine.connect() as conn:
            conn.execute(sa.text("SELECT 1"))
    except sa.exc.OperationalError as exc:
        error = str(exc.orig).strip()
    if error is not None:  # failed outside the except block: no chained traceback
        pytest.fail(PG_HELP.format(url=PG_URL, error=error), pytrace=False)
    yield engine
    engine.dispose()


@pytest.fixture(scope="session")
def pg_new_schema(pg_admin: sa.Engine) -> Iterator[Callable[[], str]]:
    """A factory of fresh, empty schemas (all dropped at the end); returns their URLs."""
    made: list[str] = []

    def new() -> str:
        name = f"airfoil_test_{os.getpid()}_{uuid.uuid4().hex[:8]}"
        with pg_admin.begin() as conn:
            conn.execute(sa.text(f'CREATE SCHEMA "{name}"'))
        made.append(name)
        return with_search_path(PG_URL, name)

    _drop_stale_schemas(pg_admin)
    yield new
    for name in made:  # one transaction each: dropping hundreds at once runs out of lock slots
        with pg_admin.begin() as conn:
            conn.execute(sa.text(f'DROP SCHEMA IF EXISTS "{name}" CASCADE'))


def _drop_stale_schemas(pg_admin: sa.Engine) -> None:
    """Drop test schemas left by test processes of this machine that are gone (a run killed
    before its teardown), so they do not pile up in the shared test database."""
    with pg_admin.connect() as conn:
        names = conn.execute(
            sa.text("SELECT nspname FROM pg_namespace WHERE nspname LIKE 'airfoil_test_%'")
        ).scalars()
        stale = []
        for name in names:
            pid = name.split("_")[2]
            if pid.isdigit() and int(pid) != os.getpid() and not pid_alive(int(pid)):
                stale.append(name)
    for name in stale:
        with pg_admin.begin() as conn:
            conn.execute(sa.text(f'DROP SCHEMA IF EXISTS "{name}" CASCADE'))


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A SQLite file migrated to head, to copy instead of migrating for every test."""
    path = tmp_path_factory.mktemp("template") / "airfoil.db"
    migrate(f"sqlite:///{path}")
    return path


@pytest.fixture
def sqlite_url(tmp_path: Path, sqlite_template: Path) -> str:
    """A fresh, migrated SQLite database of this test."""
    path = tmp_path / "db" / "airfoil.db"
    path.parent.mkdir()
    shutil.copyfile(sqlite_template, path)
    return f"sqlite:///{path}"


@pytest.fixture(scope="session")
def ray_session(
    tmp_path_factory: pytest.TempPathFactory, pytestconfig: pytest.Config
) -> Iterator[None]:
    """One local Ray (2 CPUs, 2 pretend GPUs, no dashboard) for every test of the session that
    asks for it; ray executors and Ray Serve backends built meanwhile join it instead of
    starting their own (each start costs seconds). The GPUs are Ray's accounting only (what
    a Serve replica is assigned); no test on it runs GPU code. Skipped where Ray
    is not installed (``pip install 'airfoil[ray]'``)."""
    ray = pytest.importorskip("ray", reason="ray is not installed: pip install 'airfoil[ray]'")
    import logging

    temp = tmp_path_factory.mktemp("ray")
    with shared_ray(pytestconfig):  # the Ray tier's time, whichever test starts it
        ray.init(
            num_cpus=2,
            num_gpus=2,
            include_dashboard=False,
            log_to_driver=False,
            logging_level=logging.WARNING,
            namespace="airfoil",
            object_store_memory=128 * 2**20,
            _temp_dir=str(temp),
        )
    yield
    with shared_ray(pytestconfig):  # runs in the session's last test's teardown
        ray.shutdown()


@pytest.fixture
def ray_session_env(ray_session: None) -> dict[str, str]:
    """This process's environment with ``AIRFOIL_RAY_ADDRESS`` set to the session's local Ray,
    for ``airfoil`` subprocesses that should join it instead of each starting (and stopping)
    a local Ray of their own: seconds each. A local Ray of a run's own (no address) is tested
    by the Ray connection's and the servers' tests."""
    import ray

    env = {**os.environ, "AIRFOIL_RAY_ADDRESS": ray.get_runtime_context().gcs_address}
    env.pop("RAY_ADDRESS", None)
    return env


@pytest.fixture(scope="session")
def ray_head(pytestconfig: pytest.Config) -> Iterator[RayHead]:
    """One Ray head (``ray start --head``, no CPUs) for every multi-node cluster test of the
    session: each adds its worker nodes to it and removes them (``_ray_cluster.Cluster``)."""
    pytest.importorskip("ray", reason="ray is not installed: pip install 'airfoil[ray]'")
    head = RayHead(Path(__file__).resolve().parents[2] / "src")
    try:
        with shared_ray(pytestconfig):
            head.start()
        yield head
    finally:
        with shared_ray(pytestconfig):
            head.stop()


def _runs_on_ray(item: pytest.Item) -> bool:
    """Whether a parameter of the test (its own, or a parametrised fixture's, such as the
    executor harnesses' ``params=["process", "ray"]``) is ``"ray"``."""
    callspec = getattr(item, "callspec", None)
    if callspec is None:
        return False
    return any(isinstance(v, str) and v == "ray" for v in callspec.params.values())


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    # Tests parametrised with the ray executor are marked `ray` (deselect: -m "not ray"),
    # whichever name the parameter has.
    for item in items:
        if _runs_on_ray(item):
            item.add_marker(pytest.mark.ray)


def _ray_grouping(item: pytest.Item) -> Grouping:
    module = item.getparent(pytest.Module)
    if module is None:
        return (item.nodeid, None, False)
    shape = nodes_key(getattr(module.obj, "RAY_NODES", None))
    return (module.nodeid, shape, bool(getattr(module.obj, "KILLS_A_NODE", False)))


def pytest_collection_finish(session: pytest.Session) -> None:
    # The multi-node modules that ask for the same worker nodes run one after the other and
    # hand them on (``_ray_order``), in the session's final list (after any deselection).
    items, keep = order_by_nodes(session.items, _ray_grouping)
    session.items[:] = items
    _ray_cluster.KEEP.clear()
    _ray_cluster.KEEP.update(keep)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item) -> Iterator[None]:
    report = yield
    if report.failed:  # its nodes are not handed on (``_ray_cluster.running``)
        _ray_cluster.FAILED.add(item.nodeid)
        module = item.getparent(pytest.Module)
        if module is not None:
            _ray_cluster.FAILED.add(module.nodeid)
    return report


@pytest.fixture(autouse=True)
def _ray_for_ray_params(request: pytest.FixtureRequest) -> None:
    """A test parametrised with `"ray"` (as its executor, or its harness's) runs on the session's
    Ray."""
    if _runs_on_ray(request.node):
        request.getfixturevalue("ray_session")
