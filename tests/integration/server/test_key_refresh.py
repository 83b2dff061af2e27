"""The API's key check answers from a read of the keys that a thread of the registry renews
every ``keys_refresh_s`` (issue 17: the read on a request's path was two round trips, a
pool checkout's ping and the select, on 1-3% of requests under load), with revocation kept
honest: a key revoked by another process (``airfoil auth revoke-key``) stops working within
``keys_max_age_s`` of the revocation, one revoked through the registry at once; other
keys, another project's too, keep working; a key created elsewhere works at once; with the
refresh stopped or failing, requests read keys themselves, as before."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from airfoil.server._registry import KEYS_MAX_AGE_S, KEYS_REFRESH_S, ApiKey, Registry

pytestmark = pytest.mark.integration


@pytest.fixture(params=["sqlite", "postgresql"])
def url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'airfoil.db'}"
    new_schema: Callable[[], str] = request.getfixturevalue("pg_new_schema")
    return new_schema()


@pytest.fixture
def server(url: str, tmp_path: Path) -> Iterator[Registry]:
    """The server's registry, its key refresh running."""
    reg = Registry(url, str(tmp_path))
    reg.start_key_refresh()
    yield reg
    reg.close()


@pytest.fixture
def cli(url: str, tmp_path: Path) -> Iterator[Registry]:
    """Another process's registry on the same database (what ``airfoil auth`` opens)."""
    reg = Registry(url, str(tmp_path))
    yield reg
    reg.close()


def _statements(reg: Registry) -> list[str]:
    seen: list[str] = []
    sa.event.listen(reg.engine, "before_cursor_execute", lambda _c, _cur, sql, *_: seen.append(sql))
    return seen


def _check(reg: Registry, key: str) -> ApiKey | None:
    _, key_id, secret = key.split("_", 2)
    return reg.lookup_key(key_id, secret)


def _until_read(reg: Registry) -> None:
    """Wait for the refresh's next read of the keys."""
    deadline = time.monotonic() + 10
    while reg._fresh_keys() is None or not reg._fresh_keys():
        assert time.monotonic() < deadline, "the refresh never read the keys"
        time.sleep(0.02)


def test_the_key_check_reads_nothing_on_a_requests_path(server: Registry, cli: Registry) -> None:
    _, key = cli.create_key("alpha", "viewer")
    _until_read(server)
    time.sleep(KEYS_REFRESH_S)  # the refresh's turn after the key's creation, surely read
    seen = _statements(server)
    started = time.monotonic()
    checks = 0
    span = KEYS_MAX_AGE_S + KEYS_REFRESH_S  # past the bound: the refresh kept it fresh
    while time.monotonic() - started < span:
        assert server.keys_configured()
        found = _check(server, key)
        assert found is not None and found.project == "alpha"
        checks += 1
        time.sleep(0.01)
    refreshes = sum("server_api_keys" in s for s in seen)
    assert checks > 100 and refreshes <= span / KEYS_REFRESH_S + 1, seen


def test_a_key_revoked_elsewhere_stops_within_the_bound_others_keep_working(
    server: Registry, cli: Registry
) -> None:
    gone_id, gone = cli.create_key("alpha", "admin")
    _, same_project = cli.create_key("alpha", "viewer")
    _, other_project = cli.create_key("beta", "admin")
    _until_read(server)
    time.sleep(KEYS_REFRESH_S)
    assert _check(server, gone) is not None
    cli.revoke_key(gone_id)
    revoked_at = time.monotonic()
    while _check(server, gone) is not None:
        assert _check(server, same_project) is not None
        assert _check(server, other_project) is not None
        assert time.monotonic() - revoked_at < KEYS_MAX_AGE_S + 0.5, "revoked key still works"
        time.sleep(0.01)
    for _ in range(50):  # and never again
        assert _check(server, gone) is None
        assert _check(server, same_project) is not None
        assert _check(server, other_project) is not None


def test_a_key_revoked_or_created_through_the_server_acts_at_once(server: Registry) -> None:
    key_id, key = server.create_key("alpha", "runner")
    assert _check(server, key) is not None  # created: at once (read from the database)
    _until_read(server)
    server.revoke_key(key_id)
    assert _check(server, key) is None  # revoked here: at once, not after the bound
    _, other = server.create_key("beta", "viewer")
    assert _check(server, other) is not None
    assert _check(server, f"af_{key_id}_wrong") is None


def test_a_key_created_elsewhere_works_at_once(server: Registry, cli: Registry) -> None:
    cli.create_key("alpha", "viewer")
    _until_read(server)
    _, fresh = cli.create_key("alpha", "runner")
    found = _check(server, fresh)
    assert found is not None and found.role == "runner"


def test_without_a_fresh_read_each_check_reads_the_database(
    server: Registry, cli: Registry
) -> None:
    key_id, key = cli.create_key("alpha", "viewer")
    _until_read(server)
    server.stop_key_refresh()  # (or failing: the database away)
    server.keys_max_age_s = 0.2
    time.sleep(0.3)
    cli.revoke_key(key_id)
    assert _check(server, key) is None  # not answered from the stale read


def test_without_the_refresh_the_open_check_and_the_key_check_share_one_read(
    cli: Registry,
) -> None:
    # main: keys_configured kept its own 2 s cache (a query of its own), and the key check
    # then read the key again: two reads where one answers both
    _, key = cli.create_key("alpha", "viewer")
    seen = _statements(cli)
    assert cli.keys_configured()
    found = _check(cli, key)
    assert found is not None and found.project == "alpha"
    assert len(seen) == 1, seen  # one read of the keys answered both
    for _ in range(5):  # and the next requests, while it is fresh
        assert cli.keys_configured() and _check(cli, key) is not None
    assert len(seen) == 1, seen
    cli.revoke_key(found.id)  # a change made here is seen at once, both ways
    assert cli.keys_configured() and _check(cli, key) is None


def test_an_idle_refresh_reads_nothing_and_a_check_wakes_it(
    server: Registry, cli: Registry
) -> None:
    # main: the refresh read every key every second, checked or not (an idle server's
    # steady CPU and a backend's wake-ups)
    key_id, key = cli.create_key("alpha", "viewer")
    server.keys_idle_after_s = 0.3
    assert _check(server, key) is not None
    _until_read(server)
    time.sleep(0.3 + KEYS_REFRESH_S)  # past the last check: the refresh waits for one
    seen = _statements(server)
    time.sleep(2 * KEYS_REFRESH_S)
    assert seen == []  # idle: nothing read
    server.keys_idle_after_s = 5 * KEYS_REFRESH_S  # once woken, it stays awake a while
    cli.revoke_key(key_id)
    assert _check(server, key) is None  # the read is older than the bound: read now
    # one read of the keys, which the next checks and the woken refresh share (the refresh
    # woke by the check reads nothing while the check's read is fresh)
    assert len(seen) == 1, seen
    assert _check(server, key) is None and len(seen) == 1
    time.sleep(1.5 * KEYS_REFRESH_S)
    assert len(seen) >= 2, seen  # the check woke the refresh: it reads on its own again
