"""An execution whose stored record no longer decodes (stored by an older or faulty
version) is left out of the server's listing, which still answers for the project; its
detail is a 500 naming the record (code ``unreadable_record``), not a 503 that tells the
client to retry. SQLite and PostgreSQL."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from typing import Any

import httpx
import pytest
import sqlalchemy as sa

from airfoil.wire import ExecutionDetail

pytestmark = pytest.mark.integration


def _spoil_spec(conn: Any, execution_id: str) -> None:
    """A spec version of the wrong type, in the execution's spec row (stored apart from its
    record since revision 0021)."""
    q = sa.text("SELECT spec FROM execution_specs WHERE execution_id = :id")
    spec = json.loads(conn.execute(q, {"id": execution_id}).scalar_one())
    spec["version"] = 2
    q = sa.text("UPDATE execution_specs SET spec = :s WHERE execution_id = :id")
    conn.execute(q, {"s": json.dumps(spec), "id": execution_id})


def _spoil(url: str, execution_id: str) -> None:
    """A spec of the wrong type, a phase of the wrong type in the head."""
    engine = sa.create_engine(url, poolclass=sa.pool.NullPool)
    with engine.begin() as conn:
        q = sa.text("SELECT head FROM executions WHERE id = :id")
        head = json.loads(conn.execute(q, {"id": execution_id}).scalar_one())
        head["phase"] = 7
        q = sa.text("UPDATE executions SET head = :h WHERE id = :id")
        conn.execute(q, {"h": json.dumps(head), "id": execution_id})
        _spoil_spec(conn, execution_id)
    engine.dispose()


def test_an_unreadable_execution_is_left_out_of_the_list_and_its_detail_names_it(
    client: Any, flow: Any, server: Any
) -> None:
    client.register([flow.wf])
    bad, good = client.launch(flow.wf, {"x": 1}), client.launch(flow.wf, {"x": 2})
    for ex in (bad, good):
        client.wait(ex.id, poll_s=0.05)
    _spoil(server.deps.meta.url, bad.id)

    page = client.list()
    assert [e.id for e in page.items] == [good.id]
    # the page says what it left out, so its total and its entries agree
    assert page.total == 2
    assert [(u.kind, u.id) for u in page.unreadable] == [("execution", bad.id)]
    assert "$.phase" in page.unreadable[0].reason
    # why, in the words the CLI and the console print (main: each chose them by kind)
    assert page.unreadable[0].why == "it was stored by an older or faulty version of Airfoil"
    paged = [client.list(limit=1, offset=i) for i in (0, 1)]
    assert [[e.id for e in p.items] + [u.id for u in p.unreadable] for p in paged] == [
        [good.id],
        [bad.id],
    ]
    searched = client.list(q="wf")
    assert [e.id for e in searched.items] == [good.id] and searched.total == 1
    assert [u.id for u in searched.unreadable] == [bad.id]
    base = f"{server.url}/api/v1/projects/{client.project}/executions"
    detail = httpx.get(f"{base}/{bad.id}")
    assert detail.status_code == 500
    error = detail.json()["error"]
    assert error["code"] == "unreadable_record"
    assert f"execution {bad.id!r} cannot be read" in error["message"]
    assert httpx.get(f"{base}/{good.id}").status_code == 200


def test_the_remote_listing_says_what_it_left_out(client: Any, flow: Any, server: Any) -> None:
    client.register([flow.wf])
    bad, good = client.launch(flow.wf, {"x": 1}), client.launch(flow.wf, {"x": 2})
    for ex in (bad, good):
        client.wait(ex.id, poll_s=0.05)
    _spoil(server.deps.meta.url, bad.id)
    env = dict(os.environ, AIRFOIL_SERVER_URL=server.url, AIRFOIL_PROJECT=client.project)
    cli = [sys.executable, "-m", "airfoil.cli", "executions", "list", "--remote"]
    for extra in ([], ["--json"]):
        listed = subprocess.run(
            [*cli, *extra], env=env, capture_output=True, text=True, timeout=120
        )
        assert listed.returncode == 0, listed.stderr
        assert good.id in listed.stdout and bad.id not in listed.stdout
        said = " ".join(listed.stderr.split())
        assert f"1 execution could not be read and is left out: {bad.id}" in said, said


def _spoil_part(url: str, table: str, execution_id: str, field: str) -> str:
    """A field of the wrong type in the first stored row of ``table`` of the execution
    (by key); returns that row's node id (events: its seq)."""
    key = "seq" if table == "events" else "node_id"
    engine = sa.create_engine(url, poolclass=sa.pool.NullPool)
    with engine.begin() as conn:
        q = sa.text(f"SELECT {key}, record FROM {table} WHERE execution_id = :id ORDER BY {key}")
        which, record = conn.execute(q, {"id": execution_id}).first()
        data = json.loads(record)
        data[field] = 7
        q = sa.text(f"UPDATE {table} SET record = :r WHERE execution_id = :id AND {key} = :k")
        conn.execute(q, {"r": json.dumps(data), "id": execution_id, "k": which})
    engine.dispose()
    return str(which)


def test_a_detail_with_a_damaged_node_shows_the_rest_and_names_it(
    client: Any, flow: Any, server: Any
) -> None:
    client.register([flow.wf])
    ex = client.launch(flow.wf, {"x": 1})
    client.wait(ex.id, poll_s=0.05)
    url = server.deps.meta.url
    node = _spoil_part(url, "nodes", ex.id, "phase")
    attempt_node = _spoil_part(url, "attempts", ex.id, "phase")
    seq = _spoil_part(url, "events", ex.id, "to_phase")
    # damaged under the server's feet, with no event appended: its kept answer (and the
    # client's, by ETag) is stale
    with server.deps.detail_lock:
        server.deps.detail_cache.clear()

    base = f"{server.url}/api/v1/projects/{client.project}/executions/{ex.id}"
    detail = ExecutionDetail.model_validate_json(httpx.get(base).content)
    assert detail.phase == "succeeded"
    assert node not in {n.id for n in detail.nodes} and len(detail.nodes) == 2
    assert {(u.kind, u.id) for u in detail.unreadable} == {
        ("node", f"{ex.id}/{node}"),
        ("attempt", f"{ex.id}/{attempt_node}#1"),
    }
    events = httpx.get(f"{base}/events").json()
    assert str(seq) not in {str(e["seq"]) for e in events["items"]} and events["items"]
    assert [(u["kind"], u["id"]) for u in events["unreadable"]] == [("event", f"{ex.id}@{seq}")]
    assert httpx.get(f"{base}/graph").status_code == 200  # the version's graph, whole
    # nothing sensible to show for the damaged node itself: the typed error, named
    alone = httpx.get(f"{base}/nodes/{node}")
    assert alone.status_code == 500, alone.text
    assert alone.json()["error"]["code"] == "unreadable_record"
    assert f"node '{ex.id}/{node}' cannot be read" in alone.json()["error"]["message"]


def _left_running(url: str, execution_id: str, spoil_spec: bool = False) -> None:
    """Make an ended execution look as an older version left it: running, its lease lapsed
    (``spoil_spec``: its own record no longer decodes either)."""
    engine = sa.create_engine(url, poolclass=sa.pool.NullPool)
    with engine.begin() as conn:
        q = sa.text("SELECT record, head FROM executions WHERE id = :id")
        record, head = (json.loads(c) for c in conn.execute(q, {"id": execution_id}).one())
        for data in (record, head):
            data["phase"] = "running"
            data.pop("ended_at", None)
        if spoil_spec:
            _spoil_spec(conn, execution_id)
        q = sa.text(
            "UPDATE executions SET phase = 'running', record = :r, head = :h, "
            "lease_owner = NULL, lease_expires_at = NULL WHERE id = :id"
        )
        compact = {"separators": (",", ":")}  # as stored: the claim matches its code_root
        row = {"r": json.dumps(record, **compact), "h": json.dumps(head, **compact)}
        conn.execute(q, {**row, "id": execution_id})
    engine.dispose()


def test_the_engine_fails_an_execution_it_cannot_load_and_carries_on(
    client: Any, flow: Any, server: Any
) -> None:
    """An unfinished execution with a damaged node (what an older version left running) is
    claimed by a slot, which cannot load it: it is failed with a ``data`` error naming the
    node (once: no claim of it ever again), and the slot carries on."""
    client.register([flow.wf])
    ex = client.launch(flow.wf, {"x": 1})
    client.wait(ex.id, poll_s=0.05)
    url = server.deps.meta.url
    node = _spoil_part(url, "nodes", ex.id, "phase")
    _left_running(url, ex.id)
    server.deps.launched()  # a launch wakes the slots: the claim comes at once

    failed = client.wait(ex.id, poll_s=0.05, timeout=30)
    assert failed.phase == "failed" and failed.error is not None
    assert failed.error.kind == "data" and failed.error.type == "UnreadableRecordError"
    assert f"node '{ex.id}/{node}' cannot be read" in failed.error.message
    after = client.wait(client.launch(flow.wf, {"x": 2}).id, poll_s=0.05, timeout=60)
    assert after.phase == "succeeded"  # the slot carries on
    assert client.get(ex.id).phase == "failed"  # and never claims it again


def test_an_execution_that_cannot_even_be_failed_is_claimed_once(
    client: Any, flow: Any, server: Any
) -> None:
    """An unfinished execution whose own record does not decode cannot be failed (its
    record cannot be read to write it): the slot leaves it as stored and this server never
    claims it again (on main: claimed, and failed to load, every idle claim)."""
    if server.database_url is not None:
        pytest.skip("the slots run in the engine process there: their claims are not seen")
    client.register([flow.wf])
    ex = client.launch(flow.wf, {"x": 1})
    client.wait(ex.id, poll_s=0.05)
    _left_running(server.deps.meta.url, ex.id, spoil_spec=True)
    driver = server.deps.driver
    server.deps.launched()
    deadline = time.monotonic() + 30
    while ex.id not in driver.undrivable:
        assert time.monotonic() < deadline, "the slot did not give it up"
        time.sleep(0.05)
    # the slot marks it undrivable inside its drive and lets go of it just after (its
    # ``current`` is reset when the drive returns): a loaded machine can show both at once
    while ex.id in driver.busy():
        assert time.monotonic() < deadline, "the slot still holds it"
        time.sleep(0.05)
    after = client.wait(client.launch(flow.wf, {"x": 2}).id, poll_s=0.05, timeout=60)
    assert after.phase == "succeeded"  # the slots carry on
    assert ex.id not in driver.busy()


class _CrossedClaims:
    """The driver's store, with two slots' claims crossing as they do on a loaded machine:
    the first claim (it takes the execution) returns only once a second slot's claim has
    begun, so that one read what to leave out before the first slot said it drives the
    execution; the second goes to the store only once ``gone()`` (the first slot is done
    with it)."""

    def __init__(self, meta: Any, gone: Callable[[], bool]) -> None:
        self.inner, self.gone = meta, gone
        self.calls = 0
        self.claimed: list[str | None] = []
        self._lock = threading.Lock()
        self._second_in = threading.Event()

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    def claim_execution(self, *args: Any, **kwargs: Any) -> str | None:
        with self._lock:
            n, self.calls = self.calls, self.calls + 1
        if n == 1:
            self._second_in.set()
            deadline = time.monotonic() + 10
            while not self.gone():
                assert time.monotonic() < deadline, "the first slot kept the execution"
                time.sleep(0.01)
        got = self.inner.claim_execution(*args, **kwargs)
        with self._lock:
            self.claimed.append(got)
        if n == 0:
            self._second_in.wait(10)
        return got


def test_crossed_claims_drive_an_undrivable_execution_once(
    client: Any, flow: Any, server: Any, monkeypatch: pytest.MonkeyPatch, caplog: Any
) -> None:
    """Two slots woken at once claim side by side: the second read what to leave out
    before the first said it drives the execution, and its claim reached the store after
    the first slot's drive had failed and let the lease go (at load, a claim waits its turn
    for SQLite's lock). main: it took the execution again and drove it a second time (two
    "cannot be driven", two loads: the claimed-once test's log in a CI); the driver now
    gives back a claim of an execution one of its slots holds or that it gave up on."""
    if server.database_url is not None:
        pytest.skip("the slots run in the engine process there: their claims are not seen")
    client.register([flow.wf])
    ex = client.launch(flow.wf, {"x": 1})
    client.wait(ex.id, poll_s=0.05)
    driver = server.deps.driver
    # the second claim reaches the store once the first slot gave the execution up
    crossed = _CrossedClaims(driver.meta, lambda: ex.id in driver.undrivable)
    _left_running(server.deps.meta.url, ex.id, spoil_spec=True)
    caplog.set_level(logging.ERROR, logger="airfoil.server._driver")
    monkeypatch.setattr(driver, "meta", crossed)
    server.deps.launched()
    deadline = time.monotonic() + 30

    def settled() -> bool:
        return ex.id in driver.undrivable and len(crossed.claimed) >= 2 and not driver.busy()

    for _ in range(2):  # and again a moment later: a slot whose claim just returned drives
        while not settled():
            assert time.monotonic() < deadline, (crossed.claimed, driver.busy())
            time.sleep(0.05)
        time.sleep(0.5)
    monkeypatch.undo()
    assert crossed.claimed[0] == ex.id  # the crossing happened as staged
    said = [r.getMessage() for r in caplog.records if "cannot be driven" in r.getMessage()]
    assert len(said) == 1, said
    assert ex.id not in driver.busy()


def test_compare_search_and_values_read_past_a_damaged_part(
    client: Any, flow: Any, server: Any
) -> None:
    """A damaged node of run A and attempt of run B (stored by an older or faulty version):
    the comparison, the log search and a value's bytes are the rest, with the damaged part
    named (main: each was a 500 ``unreadable_record`` for the whole answer)."""
    client.register([flow.wf])
    a, b = client.launch(flow.wf, {"x": 1}), client.launch(flow.wf, {"x": 2})
    for ex in (a, b):
        client.wait(ex.id, poll_s=0.05)
    url = server.deps.meta.url
    node = _spoil_part(url, "nodes", a.id, "phase")
    tried = _spoil_part(url, "attempts", b.id, "phase")

    c = client.compare(a.id, b.id)
    assert [(u.kind, u.id) for u in c.unreadable] == [("node", f"{a.id}/{node}")]
    assert "$.phase" in c.unreadable[0].reason
    assert (c.phase_a, c.phase_b) == ("succeeded", "succeeded")
    assert len(c.nodes) == 3  # A's damaged node is compared as missing on A's side
    assert {n.phase_a for n in c.nodes if n.node_id != node} == {"succeeded"}

    found = client.search_logs("doubling")
    assert [(u.kind, u.id) for u in found.unreadable] == [("attempt", f"{b.id}/{tried}#1")]
    assert {m.execution_id for m in found.matches} >= {a.id}  # A's logs were still read
    assert found.runs >= 2

    # B's node whose attempt is damaged: the node's own page, naming the attempt (main: 500)
    hurt = httpx.get(
        f"{server.url}/api/v1/projects/{client.project}/executions/{b.id}/nodes/{tried}"
    )
    assert hurt.status_code == 200, hurt.text
    page = hurt.json()
    assert page["phase"] == "succeeded" and page["attempt_list"] == []
    assert [(u["kind"], u["id"]) for u in page["unreadable"]] == [("attempt", f"{b.id}/{tried}#1")]

    base = f"{server.url}/api/v1/projects/{client.project}/executions/{a.id}"
    (value,) = httpx.get(base).json()["outputs"]
    got = httpx.get(f"{base}/values/{value['hash']}")
    assert got.status_code == 200, got.text  # the run's own output: no node needed
    lost = httpx.get(f"{base}/values/{'0' * 64}")  # perhaps the damaged node's
    assert lost.status_code == 500, lost.text
    error = lost.json()["error"]
    assert error["code"] == "unreadable_record"
    assert f"node '{a.id}/{node}' cannot be read" in error["message"]


def test_the_logs_of_a_node_with_a_damaged_attempt_show_the_readable_one(
    client: Any, flow: Any, server: Any
) -> None:
    """Integ: the logs route read the node's attempts whole to find its newest, and one
    damaged attempt record failed it (500) for every attempt of the node."""
    client.register([flow.wf])
    ex = client.launch(flow.wf, {"x": 1})
    client.wait(ex.id, poll_s=0.05)
    engine = sa.create_engine(server.deps.meta.url, poolclass=sa.pool.NullPool)
    with engine.begin() as conn:  # a second attempt, stored damaged, of the first node
        q = "SELECT node_id, record FROM attempts WHERE execution_id = :id ORDER BY node_id"
        node, record = conn.execute(sa.text(q), {"id": ex.id}).first()
        data = json.loads(record)
        data["attempt"], data["phase"] = 2, 7
        q = "INSERT INTO attempts (execution_id, node_id, attempt, record) VALUES (:e, :n, 2, :r)"
        conn.execute(sa.text(q), {"e": ex.id, "n": node, "r": json.dumps(data)})
    engine.dispose()

    base = f"{server.url}/api/v1/projects/{client.project}/executions/{ex.id}/nodes/{node}"
    newest = httpx.get(f"{base}/logs")
    assert newest.status_code == 200, newest.text
    assert newest.json()["attempt"] == 1
    named = [(u["kind"], u["id"]) for u in newest.json()["unreadable"]]
    assert named == [("attempt", f"{ex.id}/{node}#2")]
    assert httpx.get(f"{base}/logs", params={"attempt": 1}).json()["attempt"] == 1
    damaged = httpx.get(f"{base}/logs", params={"attempt": 2})
    assert damaged.status_code == 500, damaged.text
    assert damaged.json()["error"]["code"] == "unreadable_record"
    assert f"attempt '{ex.id}/{node}#2' cannot be read" in damaged.json()["error"]["message"]
