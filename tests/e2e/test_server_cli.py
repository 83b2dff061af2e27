"""The server and remote runs as a user types them: ``airfoil server start``, ``airfoil
register``, ``airfoil run --remote --json`` (same object as a local run), ``auth create-key``."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import psutil
import pytest
from _serve import free_port

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

FLOW = textwrap.dedent(
    """
    import airfoil as af

    @af.task
    def double(x: int) -> int:
        return 2 * x

    @af.workflow
    def wf(x: int = 3) -> int:
        return double(x=double(x=x))
    """
)


@pytest.fixture
def served(tmp_path: Path, _airfoil_home: Path) -> Iterator[str]:
    with _serve(tmp_path, _airfoil_home) as url:
        yield url
    text = (tmp_path / "server.log").read_text()
    assert "accepting loopback clients only" in text


@contextlib.contextmanager
def _serve(
    tmp_path: Path,
    _airfoil_home: Path,
    *options: str,
    env: dict[str, str] | None = None,
    procs: list[subprocess.Popen[bytes]] | None = None,
) -> Iterator[str]:
    """``airfoil server start`` on a free port (``env``: this process's environment, by
    default), its URL once ready; stopped with SIGTERM at the end. ``procs`` is given the
    server's process."""
    port = free_port()
    env = dict(
        env if env is not None else os.environ,
        AIRFOIL_HOME=str(_airfoil_home),
        AIRFOIL_PACKAGE_CACHE=str(tmp_path / "pkgs"),
    )
    log = open(tmp_path / "server.log", "wb")  # noqa: SIM115
    proc = subprocess.Popen(
        [sys.executable, "-m", "airfoil.cli", "server", "start", "--port", str(port), *options],
        env=env,
        stdout=log,
        stderr=log,
        cwd=tmp_path,
    )
    url = f"http://127.0.0.1:{port}"
    if procs is not None:
        procs.append(proc)
    try:
        deadline = time.monotonic() + 60
        with httpx.Client(timeout=2) as http:  # one client for the polls, not one a poll
            while True:
                try:
                    if http.get(url + "/readyz").status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                assert proc.poll() is None and time.monotonic() < deadline, (
                    tmp_path / "server.log"
                ).read_text()
                time.sleep(0.1)
        yield url
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()


def test_remote_run_json_matches_local_shape(cli: Any, served: str, tmp_path: Path) -> None:
    (tmp_path / "flow.py").write_text(FLOW)
    reg = cli("register", "flow.py", "--server", served, "--json")
    assert reg.code == 0, reg.err
    assert {e["name"] for e in reg.json()["entities"]} == {"flow.wf", "flow.double"}

    remote = cli("run", "--remote", "--server", served, "--json", "flow.py", "wf", "--x", "4")
    assert remote.code == 0, remote.err
    local = cli("run", "--json", "flow.py", "wf", "--x", "4")
    assert local.code == 0, local.err
    r, loc = remote.json(), local.json()
    assert set(r) == set(loc)
    assert r["phase"] == "succeeded" and r["outputs"] == loc["outputs"] == {"o0": 16}
    assert [set(n) for n in r["nodes"]] == [set(n) for n in loc["nodes"]]
    assert r["version"] == loc["version"]

    bad = cli("run", "--remote", "--server", served, "flow.py", "wf", "--x", "nope")
    assert bad.code == 2 and "expects int" in bad.err

    listed = cli("remote", "list", "--server", served, "--json")
    assert listed.code == 0, listed.err
    assert len(listed.json()) == 2  # the local run shares the store
    local_list = cli("executions", "list", "--json")
    assert [set(e) for e in listed.json()] == [set(e) for e in local_list.json()]


CACHED = textwrap.dedent(
    """
    import airfoil as af
    from helpers import helper

    @af.task(cache=True)
    def t(x: int) -> int:
        return helper(x)

    @af.workflow
    def wf(x: int = 1) -> int:
        return t(x=x)
    """
)


def test_cache_explain_diffs_the_code_of_a_server_run(
    cli: Any, served: str, tmp_path: Path
) -> None:
    """A server launch's versions are computed by the client; the server's worker computes
    the same from the package and records what they were computed from."""
    (tmp_path / "flow.py").write_text(CACHED)
    (tmp_path / "helpers.py").write_text("def helper(x):\n    return x + 1\n")
    first = cli("run", "--remote", "--server", served, "--json", "flow.py", "wf")
    assert first.code == 0, first.err
    assert first.json()["nodes"][0]["cache"] == "put"
    (tmp_path / "helpers.py").write_text("def helper(x):\n    return x + 5\n")
    second = cli("run", "--remote", "--server", served, "--json", "flow.py", "wf")
    assert second.code == 0, second.err
    assert second.json()["outputs"] == {"o0": 6}
    exec_id = second.json()["execution_id"]
    local = cli("cache", "explain", exec_id, "n0")  # reading the server's store directly
    remote = cli("cache", "explain", exec_id, "n0", "--server", served)  # through the API
    for why in (local, remote):
        assert why.code == 0, why.err
        assert "code changed since version" in why.out, why.out
        assert "~ helpers.py:helper changed:" in why.out
        assert "-    return x + 1" in why.out and "+    return x + 5" in why.out
    assert remote.out == local.out
    as_json = cli("cache", "explain", exec_id, "n0", "--server", served, "--json")
    assert as_json.code == 0, as_json.err
    assert as_json.json() == cli("cache", "explain", exec_id, "n0", "--json").json()
    assert as_json.json()["code_changes"]["lines"][0] == "~ helpers.py:helper changed:"


FLAKY = textwrap.dedent(
    """
    import os

    import airfoil as af

    @af.task
    def double(x: int) -> int:
        print("doubling", x)
        return 2 * x

    @af.task
    def needs_flag(path: str, x: int) -> int:
        if not os.path.exists(path):
            raise ValueError("no flag yet")
        return x + 1

    @af.workflow
    def flaky(path: str, x: int = 4) -> int:
        return needs_flag(path=path, x=double(x=x))
    """
)


def test_executions_commands_work_remotely(cli: Any, served: str, tmp_path: Path) -> None:
    (tmp_path / "flaky.py").write_text(FLAKY)
    flag = tmp_path / "flag"
    run = cli("run", "--remote", "--server", served, "flaky.py", "flaky", "--path", str(flag))
    assert run.code == 1 and "no flag yet" in run.err
    exec_id = run.err.split("execution ", 1)[1].split()[0]

    shown = cli("executions", "show", exec_id, "--server", served, "--json")
    assert shown.code == 0, shown.err
    local_shape = cli("executions", "show", exec_id, "--json")  # the server shares the store
    assert set(shown.json()) == set(local_shape.json())
    assert shown.json()["phase"] == "failed"
    table = cli("executions", "show", exec_id, "--remote", env={"AIRFOIL_SERVER_URL": served})
    assert table.code == 0 and "needs_flag" in table.out and "failed" in table.out

    logs = cli("logs", exec_id, "--server", served)
    assert logs.code == 0, logs.err
    assert "doubling 4" in logs.out and "no flag yet" in logs.out

    resumed = cli("executions", "resume", exec_id, "--server", served)
    assert resumed.code == 2 and "recover" in resumed.err

    named = cli("executions", "recover", exec_id, "--server", served, "--name", "mine")
    assert named.code == 2 and "local runs only" in named.err

    flag.write_text("go")
    again = cli("executions", "recover", exec_id, "--server", served, "--json")
    assert again.code == 0, again.err
    body = again.json()
    assert body["phase"] == "succeeded" and body["outputs"] == {"o0": 9}
    assert {n["task"]: n["attempts"] for n in body["nodes"]} == {
        "flaky.double": 0,  # reused
        "flaky.needs_flag": 1,
    }
    relaunched = cli("executions", "relaunch", body["execution_id"], "--server", served)
    assert relaunched.code == 0, relaunched.err
    gone = cli("executions", "abort", body["execution_id"], "--server", served)
    assert gone.code != 0 and "already ended" in gone.err


def test_a_remote_run_is_shown_by_its_name(cli: Any, served: str, tmp_path: Path) -> None:
    """``executions show --remote`` titles a run with its name in the project (main: its
    global id), as the local command does."""
    (tmp_path / "flaky.py").write_text(FLAKY)
    flag = tmp_path / "flag"
    run = cli(
        "run", "--remote", "--server", served, "--name", "flaky-named", "--json", "flaky.py",
        "flaky", "--path", str(flag),
    )  # fmt: skip
    assert run.code == 1, run.err
    eid = run.json()["execution_id"]
    table = cli("executions", "show", "flaky-named", "--server", served)
    assert table.code == 0, table.err
    assert table.out.startswith("execution flaky-named ") and eid not in table.out, table.out


def test_auth_create_key_locks_the_server(cli: Any, served: str, tmp_path: Path) -> None:
    made = cli("auth", "create-key", "--project", "default", "--role", "viewer")
    assert made.code == 0, made.err
    key = made.out.strip()
    assert key.startswith("af_")
    time.sleep(2.1)  # the server caches "are there keys" for 2 s
    r = httpx.get(served + "/api/v1/projects/default/executions")
    assert r.status_code == 401
    r = httpx.get(
        served + "/api/v1/projects/default/executions", headers={"Authorization": f"Bearer {key}"}
    )
    assert r.status_code == 200
    (tmp_path / "flow.py").write_text(FLOW)
    denied = cli("register", "flow.py", "--server", served, env={"AIRFOIL_API_KEY": key})
    assert denied.code != 0 and "runner role" in denied.err
    assert key not in cli("auth", "list-keys").out


FRAMES = textwrap.dedent(
    """
    import pandas as pd

    import airfoil as af

    @af.task
    def total(df: pd.DataFrame, notes: af.File) -> float:
        with open(notes.path) as fh:
            bonus = float(fh.read())
        return float(df["x"].sum()) + bonus
    """
)


def test_remote_run_uploads_dataframe_and_file_inputs(
    cli: Any, served: str, tmp_path: Path
) -> None:
    (tmp_path / "frames.py").write_text(FRAMES)
    (tmp_path / "data.csv").write_text("x\n" + "\n".join(str(i) for i in range(5000)) + "\n")
    (tmp_path / "bonus.txt").write_text("0.5")
    args = ("frames.py", "total", "--df", "data.csv", "--notes", "bonus.txt")
    remote = cli("run", "--remote", "--server", served, "--json", *args)
    assert remote.code == 0, remote.err
    local = cli("run", "--json", *args)
    assert remote.json()["outputs"] == local.json()["outputs"] == {"o0": 12497500.5}


@pytest.mark.ray
@pytest.mark.timeout(300)
def test_a_server_runs_registered_code_on_ray_and_sigterm_stops_it_with_its_local_ray(
    cli: Any, tmp_path: Path, _airfoil_home: Path
) -> None:
    """A server on a local Ray (one it starts) runs registered code there; SIGTERM then
    stops it gracefully, and its local Ray with it.

    Ray's core worker installs a failure-signal handler for SIGTERM over uvicorn's when the
    server's executor first joins the cluster. Before the fix every SIGTERM went through it
    first: a crash-like stack dump (``*** SIGTERM received ... PC: @ ...``) on stderr, and the
    stop depended on Ray's handler passing the signal on (an abort, exit 134, was recorded in
    docs/ray.md; in this test's runs on the old code the dump appeared and uvicorn's shutdown
    still finished). Now only uvicorn's graceful path runs, to its end ("Finished server
    process", then it re-raises the signal as every uvicorn server does: exit -15), and the
    local Ray the server started is stopped with it."""
    pytest.importorskip("ray", reason="ray is not installed: pip install 'airfoil[ray]'")
    (tmp_path / "flow.py").write_text(FLOW)
    env = dict(os.environ, RAY_USAGE_STATS_ENABLED="0")
    env.pop("RAY_DISABLE_FAILURE_SIGNAL_HANDLER", None)
    env.pop("AIRFOIL_RAY_ADDRESS", None)  # a local Ray, started by the server
    options = ("--executor", "ray", "--max-parallel", "2", "--log-level", "info")
    procs: list[subprocess.Popen[bytes]] = []
    ray_procs: list[psutil.Process] = []
    try:
        with _serve(tmp_path, _airfoil_home, *options, env=env, procs=procs) as url:
            remote = cli("run", "--remote", "--server", url, "--json", "flow.py", "wf", "--x", "5")
            assert remote.code == 0, remote.err + (tmp_path / "server.log").read_text()
            data = remote.json()
            assert data["phase"] == "succeeded" and data["outputs"] == {"o0": 20}
            (proc,) = procs
            ray_procs = [
                p
                for p in psutil.Process(proc.pid).children(recursive=True)
                if p.name() in ("gcs_server", "raylet")
            ]
            assert len(ray_procs) == 2, "the server started a local Ray"
            proc.send_signal(signal.SIGTERM)
            returncode = proc.wait(60)
            _, alive = psutil.wait_procs(ray_procs, timeout=15)
    finally:
        for p in ray_procs:  # never leave a local Ray behind, whatever happened
            if p.is_running():
                p.kill()
    log = (tmp_path / "server.log").read_text()
    assert "executor: ray on a local Ray" in log
    # The workers ran the registered package, fetched by version from the blob store.
    assert list((tmp_path / "pkgs").iterdir()), "no package was unpacked for the workers"
    assert "SIGTERM received" not in log, log[-3000:]
    assert "Application shutdown complete" in log and "Finished server process" in log, log
    assert returncode == -signal.SIGTERM, (returncode, log[-3000:])
    assert not alive, f"the local Ray outlived its server: {alive}"


def test_bad_settings_stop_the_server_with_a_typed_error(cli: Any) -> None:
    bad = cli("server", "start", "--port", str(free_port()), env={"AIRFOIL_ADMISSION": "bogus"})
    assert bad.code == 2 and "Traceback" not in bad.err
    assert "bad AIRFOIL_ADMISSION setting" in bad.err and "'database'" in bad.err
    runs = cli("server", "start", "--port", str(free_port()), env={"AIRFOIL_HISTORY_RUNS": "0"})
    assert runs.code == 2 and "bad AIRFOIL_HISTORY_RUNS setting" in runs.err


def test_a_bad_webhook_network_setting_stops_the_server_start(cli: Any) -> None:
    r = cli(
        "server",
        "start",
        "--port",
        "0",
        env={"AIRFOIL_WEBHOOK_DENIED_NETWORKS": "169.254.0.0/16, intranet"},
    )
    assert r.code == 2, (r.out, r.err)
    assert "bad AIRFOIL_WEBHOOK_DENIED_NETWORKS entry 'intranet'" in r.err


def test_server_start_refuses_the_inline_executor_and_says_what_it_runs(cli: Any) -> None:
    # main: `--executor inline` reached ServerConfig, which ran tasks in the engine process
    r = cli("server", "start", "--port", "0", "--executor", "inline")
    assert r.code == 2 and "Traceback" not in r.err, (r.out, r.err)
    assert "--executor inline: a server does not run the 'inline' executor" in r.err
    assert "use the 'process' executor" in r.err
    # a local run's AIRFOIL_EXECUTOR=inline: the server runs process workers and says so (a
    # bad webhook setting stops it right after, so no server is left running)
    env = {"AIRFOIL_EXECUTOR": "inline", "AIRFOIL_WEBHOOK_DENIED_NETWORKS": "intranet"}
    noted = cli("server", "start", "--port", "0", env=env)
    assert noted.code == 2, (noted.out, noted.err)
    assert "AIRFOIL_EXECUTOR=inline is for local runs; this server runs tasks on the" in noted.err
    quiet = cli("server", "start", "--port", "0", env={"AIRFOIL_WEBHOOK_DENIED_NETWORKS": "x"})
    assert quiet.code == 2 and "AIRFOIL_EXECUTOR=inline" not in quiet.err
