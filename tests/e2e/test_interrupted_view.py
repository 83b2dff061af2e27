"""After Ctrl-C or SIGKILL of ``airfoil run``, once no process drives the execution (its lease
released or lapsed), its unfinished nodes read ``interrupted`` and their running attempts
``lost``: in the CLI (``executions show``, ``logs``) and the API (a server on the same
database). Reading changes no stored record: a resume may still carry the run on."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.e2e

SLOW = textwrap.dedent(
    """
    import time
    import airfoil as af

    @af.task
    def first(marker: str) -> str:
        return marker

    @af.task
    def slow(marker: str) -> int:
        open(marker, "w").close()
        time.sleep(120)
        return 1

    @af.task
    def after(x: int) -> int:
        return x

    @af.workflow
    def wf(marker: str) -> int:
        return after(x=slow(marker=first(marker=marker)))
    """
)


def _meta(home: Path) -> Any:
    from airfoil.local import get_runtime
    from airfoil.settings import AirfoilSettings

    return get_runtime(AirfoilSettings(home=str(home))).meta


@pytest.fixture
def api(_airfoil_home: Path) -> Iterator[Any]:
    """The API of a server on the same home (no engine of its own): uvicorn on 127.0.0.1."""
    import httpx
    from _in_thread import serve_in_thread

    from airfoil.server import ServerConfig, create_app

    app = create_app(ServerConfig(home=str(_airfoil_home), run_engine=False))
    server = serve_in_thread(app, log_level="error", lifespan="on")
    try:
        with httpx.Client(base_url=server.url, timeout=30) as client:
            yield client
    finally:
        server.stop()


def _start(tmp_path: Path, home: Path) -> tuple[subprocess.Popen[bytes], Path]:
    (tmp_path / "slow.py").write_text(SLOW)
    marker = tmp_path / "started"
    run = ["run", "--name", "i1", "slow.py", "wf", "--marker", str(marker)]
    proc = subprocess.Popen(
        [sys.executable, "-m", "airfoil.cli", *run],
        cwd=tmp_path,
        env=dict(os.environ, AIRFOIL_HOME=str(home)),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    deadline = time.time() + 60
    while not marker.exists() and time.time() < deadline:
        time.sleep(0.05)
    assert marker.exists(), "the slow task never started"
    return proc, marker


def _converges(read: Callable[[], Any], expected: Any, timeout: float = 30.0) -> None:
    """Read until ``read()`` gives ``expected`` (a driven run's store lags its journal by a
    group commit); fail after ``timeout`` seconds, with what was read last."""
    deadline = time.monotonic() + timeout
    while (got := read()) != expected:
        assert time.monotonic() < deadline, f"still {got!r} after {timeout} s, not {expected!r}"
        time.sleep(0.05)


def _phases(show: dict[str, Any]) -> dict[str, str]:
    return {n["id"]: n["phase"] for n in show["nodes"]}


def _api_view(api: Any) -> tuple[str, dict[str, str], list[str], str]:
    base = "/api/v1/projects/default/executions"
    detail = api.get(f"{base}/i1")
    assert detail.status_code == 200, detail.text
    body = detail.json()
    node = api.get(f"{base}/i1/nodes/n1").json()
    listed = api.get(base).json()["items"]
    return (
        body["phase"],
        {n["id"]: n["phase"] for n in body["nodes"]},
        [a["phase"] for a in node["attempt_list"]],
        next(e["phase"] for e in listed if e["name"] == "i1"),
    )


@pytest.mark.parametrize("how", ["SIGINT", "SIGKILL"])
def test_unfinished_nodes_of_an_interrupted_run_read_interrupted(
    cli: Any, tmp_path: Path, _airfoil_home: Path, api: Any, how: str
) -> None:
    proc, _ = _start(tmp_path, _airfoil_home)
    # Driven: the running node reads running everywhere, once the driver's group commit has
    # stored n0's end and n1's start (journaled before n1 was handed off, in the store up to
    # 1.25 x journal_max_s later: docs/engine.md; the slow task's marker can come first).
    _converges(
        lambda: _phases(cli("executions", "show", "i1", "--json").json()),
        {"n0": "succeeded", "n1": "running", "n2": "pending"},
    )
    _converges(
        lambda: _api_view(api),
        ("running", {"n0": "succeeded", "n1": "running", "n2": "pending"}, ["running"], "running"),
    )

    os.killpg(proc.pid, getattr(signal, how))
    proc.wait(timeout=30)
    meta = _meta(_airfoil_home)
    i1 = meta.resolve_execution("default", "i1")  # its name; the store keys it by its id
    if how == "SIGKILL":  # the dead driver's lease holds for its TTL: age it past that
        lease = meta.get_lease(i1)
        assert lease is not None
        meta.release_lease(i1, lease[0])
        assert meta.acquire_lease(i1, lease[0], time.time() - 120, 30.0)
    else:  # Ctrl-C gives the lease back at once
        assert meta.get_lease(i1) is None

    shown = cli("executions", "show", "i1", "--json").json()
    assert shown["interrupted"] is True
    assert _phases(shown) == {"n0": "succeeded", "n1": "interrupted", "n2": "pending"}
    # its clock stopped with its driver: no duration that grows forever
    assert next(n for n in shown["nodes"] if n["id"] == "n1")["duration_s"] is None
    table = cli("executions", "show", "i1")
    assert table.code == 0, table.err
    assert "running" not in table.out and table.out.count("interrupted") >= 2
    logs = cli("logs", "i1", "n1", "--json").json()
    assert [(entry["node"], entry["phase"]) for entry in logs] == [("n1", "lost")]
    # listed by the phase the user sees (on main: an empty list, as for any unknown phase)
    listed = cli("executions", "list", "--phase", "interrupted", "--json").json()
    assert [(e["name"], e["interrupted"]) for e in listed] == [("i1", True)]
    assert cli("executions", "list", "--phase", "succeeded", "--json").json() == []

    assert _api_view(api) == (
        "interrupted",
        {"n0": "succeeded", "n1": "interrupted", "n2": "pending"},
        ["lost"],
        "interrupted",
    )

    # Nothing was written: the stored records still say where the run stopped.
    assert meta.get_execution(i1).phase == "running"
    assert meta.get_node(i1, "n1").phase == "running"
    assert [a.phase for a in meta.get_attempts(i1, "n1")] == ["running"]


def test_a_driven_run_whose_view_was_cached_turns_interrupted(
    tmp_path: Path, _airfoil_home: Path, api: Any
) -> None:
    """The API keeps recent answers until an event comes; a driver dying writes no event."""
    proc, _ = _start(tmp_path, _airfoil_home)
    assert _api_view(api)[0] == "running"
    assert _api_view(api)[0] == "running"  # served from the kept answer
    os.killpg(proc.pid, signal.SIGINT)
    proc.wait(timeout=30)
    assert _api_view(api)[:2] == (
        "interrupted",
        {"n0": "succeeded", "n1": "interrupted", "n2": "pending"},
    )
