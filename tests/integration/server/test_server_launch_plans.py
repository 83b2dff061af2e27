"""Launch plans over the API: registered with their file, listed, launched with their inputs
merged (a fixed input refused as locally), and their schedules fired by the server's loop.

Runs against a real server on SQLite and on PostgreSQL (the ``server`` fixture).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import time
import uuid
from pathlib import Path
from typing import Any

import pytest
from _srv import Running

from airfoil.client import ApiCallError
from airfoil.core.errors import InvalidInputError

pytestmark = [pytest.mark.integration, pytest.mark.slow]

PLANS = textwrap.dedent(
    """
    from datetime import timedelta

    import airfoil as af


    @af.task
    def scale(n: int, factor: int) -> int:
        return n * factor


    @af.workflow
    def scaled(n: int, factor: int = 1) -> int:
        return scale(n=n, factor=factor)


    tripled = af.LaunchPlan.get_or_create(
        scaled, "tripled", default_inputs={"n": 2}, fixed_inputs={"factor": 3}
    )

    ticking = af.LaunchPlan.get_or_create(
        scaled,
        "ticking",
        fixed_inputs={"n": 7, "factor": 6},
        schedule=af.FixedRate(timedelta(seconds=1)),
    )
    """
)


@pytest.fixture(scope="module")
def plans(tmp_path_factory: pytest.TempPathFactory) -> Any:
    """The user's file of launch plans, imported here (as the CLI does)."""
    from airfoil.cli._load import load_entity

    root = tmp_path_factory.mktemp("planproj")
    name = f"lp_{uuid.uuid4().hex[:8]}"
    path = root / f"{name}.py"
    path.write_text(PLANS)
    load_entity(str(path), "tripled")
    return sys.modules[name]


def test_plans_are_registered_with_their_file_and_listed(client: Any, plans: Any) -> None:
    res = client.register([plans.tripled, plans.ticking])
    assert {e.name for e in res.entities} == {plans.scaled.name}
    assert {p.name: p.created for p in res.launch_plans} == {"tripled": True, "ticking": True}
    again = client.register([plans.tripled])
    assert [p.created for p in again.launch_plans] == [False], "same spec, same version"
    listed = {p.name: p for p in client.launch_plans().items}
    assert set(listed) == {"tripled", "ticking"}
    tripled = listed["tripled"]
    assert tripled.workflow == plans.scaled.name
    assert tripled.default_inputs == ["n"] and tripled.fixed_inputs == ["factor"]
    assert tripled.schedule == "" and listed["ticking"].schedule.startswith("every")
    assert [p.name for p in tripled.interface.inputs] == ["n", "factor"]


def test_a_launch_merges_inputs_and_a_fixed_override_is_a_422(client: Any, plans: Any) -> None:
    client.register([plans.tripled])
    ex = client.launch_plan("tripled", {"n": 5})
    detail = client.wait(ex.id, timeout=60)
    assert detail.phase == "succeeded"
    assert client.outputs(ex.id, plans.scaled) == 15
    assert detail.labels["launch_plan"] == "tripled"
    defaulted = client.wait(client.launch_plan(plans.tripled).id, timeout=60)
    assert client.outputs(defaulted.id, plans.scaled) == 6
    with pytest.raises(InvalidInputError) as local:
        plans.tripled(factor=10)  # refused before anything runs
    with pytest.raises(ApiCallError) as remote:
        client.launch_plan("tripled", {"n": 1, "factor": 10})
    assert remote.value.status == 422 and remote.value.code == "fixed_input"
    assert str(remote.value) == f"{local.value} [422 fixed_input]", "the local message"
    with pytest.raises(ApiCallError) as unknown:
        client.launch_plan("no-such-plan", {})
    assert unknown.value.status == 404


def test_a_plan_launch_with_an_idempotency_key_launches_once(client: Any, plans: Any) -> None:
    """On integ the plan's launch route ignored the header: each retry launched again."""
    client.register([plans.tripled])
    first = client.launch_plan("tripled", {"n": 5}, idempotency_key="plan-run-1")
    again = client.launch_plan("tripled", {"n": 5}, idempotency_key="plan-run-1")
    assert again.id == first.id
    assert client.list().total == 1
    with pytest.raises(ApiCallError) as other:
        client.launch_plan("tripled", {"n": 6}, idempotency_key="plan-run-1")
    assert (other.value.status, other.value.code) == (422, "idempotency_key_reused")
    with pytest.raises(ApiCallError) as plain:  # the same key on the plain launch route
        client.launch(plans.scaled, {"n": 5, "factor": 3}, idempotency_key="plan-run-1")
    assert plain.value.code == "idempotency_key_reused"
    assert client.list().total == 1


def test_an_activated_schedule_fires_on_the_server(
    client: Any, plans: Any, server: Running
) -> None:
    client.register([plans.ticking])
    state = client.set_schedule("ticking", active=True)
    assert state.active and state.next_fire_at is not None
    try:
        deadline = time.time() + 45
        done: list[Any] = []
        while time.time() < deadline and not done:
            time.sleep(0.5)
            done = [
                e for e in client.list(phase="succeeded").items if e.workflow.endswith("scaled")
            ]
        assert done, "no scheduled execution succeeded within 45 s"
        assert client.outputs(done[0].id, plans.scaled) == 42
        assert client.get(done[0].id).labels["launch_plan"] == "ticking"
    finally:
        off = client.set_schedule("ticking", active=False)
    assert not off.active and off.next_fire_at is None
    (listed,) = [s for s in client.schedules() if s.name == "ticking"]
    assert not listed.active and listed.last_execution_id


def test_a_scheduled_launch_wakes_the_idle_driver_slots(
    client: Any, plans: Any, server: Running, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The server's schedules loop wakes the driver slots for what it launches, as an API
    launch does (``Deps.launched``): idle slots but the first claim only every 0.5-2 s."""
    driver = server.deps.driver
    wakes: list[float] = []
    notify = driver.notify

    def counted() -> None:
        wakes.append(time.time())
        notify()

    monkeypatch.setattr(driver, "notify", counted)
    client.register([plans.ticking])
    activated_at = time.time()
    client.set_schedule("ticking", active=True)
    try:
        deadline = time.time() + 30
        fired: list[Any] = []
        while time.time() < deadline and not fired:
            time.sleep(0.2)
            fired = [e for e in client.list().items if e.created_at >= activated_at]
        assert fired, "the schedule did not fire within 30 s"
        # the wake follows the launch's write (by a moment, longer on a loaded host)
        woke_by = time.time() + 10
        while not [t for t in wakes if t >= fired[-1].created_at] and time.time() < woke_by:
            time.sleep(0.05)
        assert [t for t in wakes if t >= fired[-1].created_at], (wakes, fired[-1].created_at)
    finally:
        client.set_schedule("ticking", active=False)


def test_run_remote_launches_a_plan_from_the_cli(server: Running, plans: Any) -> None:
    project = f"cli{uuid.uuid4().hex[:6]}"
    env = dict(os.environ, AIRFOIL_SERVER_URL=server.url, AIRFOIL_PROJECT=project)
    cli = [sys.executable, "-m", "airfoil.cli"]
    path = str(Path(plans.__file__))
    ok = subprocess.run(
        [*cli, "run", "--remote", "--json", path, "tripled", "--n", "4"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert ok.returncode == 0, ok.stderr
    assert json.loads(ok.stdout)["outputs"] == {"o0": 12}
    bad = subprocess.run(
        [*cli, "run", "--remote", path, "tripled", "--factor", "2"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert bad.returncode != 0
    assert "fixes input(s) 'factor'" in bad.stderr
    on = subprocess.run(
        [*cli, "schedules", "activate", path, "ticking", "--remote"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert on.returncode == 0, on.stderr
    assert "active on" in on.stderr
    # the server's schedules, as `schedules list` shows local ones (main: no such option)
    listed = subprocess.run(
        [*cli, "schedules", "list", "--remote", "--json"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert listed.returncode == 0, listed.stderr
    (row,) = json.loads(listed.stdout)
    assert (row["name"], row["active"], row["project"]) == ("ticking", True, project)
    off = subprocess.run(
        [*cli, "schedules", "deactivate", "ticking", "--remote"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert off.returncode == 0, off.stderr
    from airfoil.client import Client

    with Client(server.url, project=project) as c:
        (state,) = c.schedules()
    assert state.name == "ticking" and not state.active


NOTIFIED = textwrap.dedent(
    """
    from datetime import timedelta

    import airfoil as af


    @af.task
    def halve(n: int) -> int:
        return 10 // n


    @af.workflow
    def halved(n: int) -> int:
        return halve(n=n)


    hooked = af.LaunchPlan.get_or_create(
        halved, "hooked", notifications=[af.Webhook("HOOK_URL")]
    )

    hooked_tick = af.LaunchPlan.get_or_create(
        halved,
        "hooked_tick",
        fixed_inputs={"n": 5},
        schedule=af.FixedRate(timedelta(seconds=1)),
        notifications=[af.Webhook("HOOK_URL", phases=["succeeded"])],
    )
    """
)


def test_server_runs_of_plans_send_their_notifications_once(
    client: Any, server: Running, tmp_path: Path
) -> None:
    """Launched over the API or fired by a schedule, a plan's run is driven by a driver slot,
    which sends the plan's webhook once when the run ends (a real receiver on 127.0.0.1)."""
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    from airfoil.cli._load import load_entity

    posts: list[str] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            posts.append(body["text"])
            self.send_response(200)
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    receiver = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=receiver.serve_forever, daemon=True).start()
    name = f"hk_{uuid.uuid4().hex[:8]}"
    path = tmp_path / f"{name}.py"
    path.write_text(NOTIFIED.replace("HOOK_URL", f"http://127.0.0.1:{receiver.server_port}/h"))
    load_entity(str(path), "hooked")
    mod = sys.modules[name]
    try:
        client.register([mod.hooked, mod.hooked_tick])
        ok = client.launch_plan("hooked", {"n": 2})
        bad = client.launch_plan("hooked", {"n": 0})
        assert client.wait(ok.id, timeout=60).phase == "succeeded"
        assert client.wait(bad.id, timeout=60).phase == "failed"
        client.set_schedule("hooked_tick", active=True)
        try:
            deadline = time.time() + 45
            while time.time() < deadline and not any("hooked_tick" in p for p in posts):
                time.sleep(0.3)
        finally:
            client.set_schedule("hooked_tick", active=False)
        time.sleep(1.0)  # a duplicate would arrive by now
        mine = [p for p in posts if ok.id in p or bad.id in p]
        assert len(mine) == 2, posts
        assert any(ok.id in p and "succeeded" in p for p in mine)
        assert any(bad.id in p and "ZeroDivisionError" in p for p in mine)
        ticks = [p for p in posts if "launch plan hooked_tick" in p]
        assert ticks and all("succeeded" in p for p in ticks)
        fired = [e.id for e in client.list(workflow=mod.halved.name, limit=100).items]
        for eid in fired:  # one notification per scheduled run, never two
            assert sum(eid in p for p in ticks) <= 1
    finally:
        receiver.shutdown()
        receiver.server_close()
