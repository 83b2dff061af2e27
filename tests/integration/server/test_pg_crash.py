"""A server whose PostgreSQL crashes mid-run, losing the batches it had committed lazily
(``process`` durability: ``airfoil.store.sql._unflushed``), on a PostgreSQL of the test's
own with its WAL writer held still (``_own_postgres``): the store writes the lost batches
again, so every execution succeeds, every task's result is there, and no task ran twice."""

from __future__ import annotations

import logging
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import pytest
from _db_faults import chain_flow, task_lines
from _own_postgres import own_postgres
from _srv import start_server

pytestmark = [pytest.mark.integration, pytest.mark.slow]

CRASH_FLOW = chain_flow("abcd", 0.3)


@pytest.fixture(scope="module")
def crash_flow(tmp_path_factory: pytest.TempPathFactory) -> Any:
    from airfoil.cli._load import load_entity

    root = tmp_path_factory.mktemp("crashproj")
    (root / "crashflow.py").write_text(CRASH_FLOW)
    load_entity(str(root / "crashflow.py"), "chain")
    return sys.modules["crashflow"]


def test_a_postgresql_crash_mid_run_loses_no_result_and_reruns_nothing(
    crash_flow: Any, server_home: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    from airfoil.client import Client

    log = tmp_path / "runs.log"
    caplog.set_level(logging.WARNING, logger="airfoil.store")
    with own_postgres(tmp_path, wal_writer_delay="10s") as pg:
        running = start_server(server_home, pg.url, lease_ttl_s=30.0)
        try:
            with Client(running.url, project=f"p{uuid.uuid4().hex[:6]}") as client:
                client.register([crash_flow.chain])
                pg.hold_wal_writer()
                ids = [
                    client.launch(crash_flow.chain, {"tag": f"t{i}", "path": str(log)}).id
                    for i in range(6)
                ]
                deadline = time.monotonic() + 60
                while len(task_lines(log)) < 8:  # mid-run: some tasks done, more to come
                    assert time.monotonic() < deadline, "the executions did not start"
                    time.sleep(0.05)
                pg.crash()
                pg.start()
                details = [client.wait(i, timeout=180) for i in ids]
            assert [d.phase for d in details] == ["succeeded"] * 6
            assert [[o.preview for o in d.outputs] for d in details] == [[4]] * 6
            meta = running.deps.meta
            for eid in ids:  # the whole story is stored: no event, no node's end missing
                seqs = [e.seq for e in meta.get_events(eid)]
                assert seqs == list(range(1, len(seqs) + 1)), f"{eid}: events {seqs}"
                assert {n.phase for n in meta.get_nodes(eid)} == {"succeeded"}
            runs = task_lines(log)
            assert set(runs) == {f"t{i} {s}" for i in range(6) for s in "abcd"}
            assert [k for k, n in runs.items() if n > 1] == []  # no task ran twice
            lost = [r.getMessage() for r in caplog.records if "lazily committed" in r.message]
            assert lost, "the crash lost no lazy batch: the test proved nothing"
        finally:
            running.stop()
