"""A watch stream (``GET .../watch``, server-sent events) is checked for its key as it goes,
not only when it opens: a key revoked while it follows a waiting execution gets no event
written after the revocation; the stream ends with an ``error`` event naming why, which
:meth:`Client.watch` raises. On SQLite and PostgreSQL."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from _srv import server_on

pytestmark = pytest.mark.integration


def _follow(client: Any, execution_id: str, got: list[Any], done: threading.Event) -> None:
    try:
        for ev in client.watch(execution_id):
            got.append(ev)
    except Exception as exc:
        got.append(exc)
    finally:
        done.set()


def _until(check: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, what
        time.sleep(0.05)


@pytest.mark.parametrize("store", ["sqlite", "postgres"])
def test_a_revoked_key_stops_reading_a_watch_stream(
    store: str, tmp_path: Path, flow: Any, pg_schema_factory: Callable[[], str]
) -> None:
    from airfoil.client import AuthError, Client

    with server_on(store, tmp_path, pg_schema_factory) as running:
        reg = running.deps.registry
        runner = reg.create_key("alpha", "runner")[1]
        viewer_id, viewer = reg.create_key("alpha", "viewer")
        with Client(running.url, runner, project="alpha") as c:
            c.register([flow.gated])
            ex = c.launch(flow.gated, {"x": 3})

            def gates_wait() -> bool:  # then nothing runs: both gates wait, their task is done
                phases = [n.phase for n in c.get(ex.id).nodes]
                return phases.count("running") == 2 and "succeeded" in phases

            _until(gates_wait, 60, "the gates never started waiting")
            got: list[Any] = []
            done = threading.Event()
            watcher = Client(running.url, viewer, project="alpha")
            threading.Thread(target=_follow, args=(watcher, ex.id, got, done), daemon=True).start()
            _until(lambda: bool(got), 30, "no event streamed")
            seen = c._call("GET", f"/projects/alpha/executions/{ex.id}/events").json()
            before = max(e["seq"] for e in seen["items"])
            reg.revoke_key(viewer_id)
            c.signal(ex.id, "threshold", 0.5)  # events written after the revocation
            c.signal(ex.id, "ship", True)
            assert c.wait(ex.id, timeout=60).phase == "succeeded"
            ended = done.wait(10)
            watcher.close()
        assert ended, "the stream went on after its key was revoked"
        *events, last = got
        assert isinstance(last, AuthError) and "revoked" in str(last), got
        streamed = [e.seq for e in events]
        assert max(streamed) <= before, f"events {streamed} after the revocation at {before}"
