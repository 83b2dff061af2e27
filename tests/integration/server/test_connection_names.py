"""A server on PostgreSQL names its connections by process in ``pg_stat_activity``
(``application_name``): ``NAME-api`` for the API process's, ``NAME-engine`` for the engine
process's (``airfoil-`` when its URL names none), so an operator, or a benchmark over a Unix
socket, tells them apart."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from pathlib import Path

import pytest
import sqlalchemy as sa
from _srv import start_server

from airfoil.server._config import named_url

pytestmark = pytest.mark.integration


def test_named_url_names_a_postgresql_url_alone() -> None:
    assert named_url(None, "api") is None
    assert named_url("sqlite:///x.db", "api") == "sqlite:///x.db"
    plain = named_url("postgresql+psycopg://u:secret@h:5432/db?options=-csearch_path%3Ds", "api")
    assert plain is not None
    url = sa.engine.make_url(plain)
    assert url.query["application_name"] == "airfoil-api" and url.password == "secret"
    assert url.query["options"] == "-csearch_path=s"  # the rest of the query kept
    given = named_url("postgresql+psycopg://h/db?application_name=bench", "engine")
    assert given is not None and given.endswith("application_name=bench-engine")


def test_a_servers_backends_are_named_by_process(
    pg_new_schema: Callable[[], str], tmp_path: Path, pg_admin: sa.Engine
) -> None:
    tag = f"t{uuid.uuid4().hex[:10]}"
    running = start_server(
        tmp_path, f"{pg_new_schema()}&application_name={tag}", engine_process=True
    )
    try:
        with pg_admin.connect() as conn:
            names = set(
                conn.execute(
                    sa.text(
                        "SELECT application_name FROM pg_stat_activity "
                        "WHERE application_name LIKE :tag"
                    ),
                    {"tag": f"{tag}%"},
                ).scalars()
            )
    finally:
        running.stop()
    assert names == {f"{tag}-api", f"{tag}-engine"}
