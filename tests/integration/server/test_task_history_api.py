"""Task history over the server (issue 15): real runs on the server's workers are recorded,
``GET .../tasks/{task}/stats`` and ``GET .../executions/{id}/anomalies`` answer them, and
``airfoil tasks stats --remote`` / ``executions show --remote`` print the same as locally;
another project sees none of it."""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest
from typer.testing import CliRunner

from airfoil.cli.main import app
from airfoil.client import Client
from airfoil.core.errors import InvalidInputError, NotFoundError

pytestmark = pytest.mark.integration


def _cli(*args: str, env: dict[str, str] | None = None) -> str:
    result = CliRunner().invoke(app, list(args), env={"COLUMNS": "200", **(env or {})})
    assert result.exit_code == 0, result.output
    return result.output


def test_history_and_a_slow_outlier_over_the_api(client: Any, flow: Any, server: Any) -> None:
    client.register([flow.nap])
    usual: list[str] = []
    durations: list[float] = []
    # The first attempt on each of the server's driver slots starts its worker pool and
    # loads the code (seconds, part of its duration): run until the latest ten are warm.
    while len(usual) < 10 or max(durations[-10:]) > 0.5:
        assert len(usual) < 40, durations
        ex = client.launch("flow.nap", {"seconds": 0.0})
        assert client.wait(ex.id, timeout=60).phase == "succeeded"
        usual.append(ex.id)
        durations.append(client.task_stats("flow.nap", last=1).runs[0].duration)
    slow = client.launch("flow.nap", {"seconds": 1.5})
    assert client.wait(slow.id, timeout=60).phase == "succeeded"

    stats = client.task_stats("flow.nap")
    total = len(usual) + 1
    assert stats.version == flow.nap.spec.version and stats.project == client.project
    assert [r.execution_id for r in stats.runs] == [slow.id, *usual[::-1]]
    assert stats.duration is not None and stats.duration.count == total
    assert stats.runs[0].duration >= 1.5
    assert [r.execution_id for r in client.task_stats("flow.nap", last=2).runs] == [
        slow.id,
        usual[-1],
    ]

    found = client.anomalies(slow.id, last=10)
    assert (found.k, found.min_history, found.runs) == (3.0, 10, 10)
    (a,) = found.items
    assert (a.node_id, a.kind, a.count) == ("n0", "duration", 10)
    assert a.message.startswith("took 1.") and "std above the mean" in a.message
    assert client.anomalies(slow.id, last=10, k=1e5).items == []
    # four runs before it: too little history, whatever k
    assert client.anomalies(usual[4], k=0.001, last=10).items == []

    remote = ("--server", server.url, "--project", client.project)
    shown = _cli("executions", "show", slow.id, *remote, env={"AIRFOIL_HISTORY_RUNS": "10"})
    assert "! n0 attempt 1 flow.nap: took 1." in shown
    assert "took 1." not in _cli(
        "executions", "show", slow.id, *remote, env={"AIRFOIL_ANOMALY_K": "1e5"}
    )
    printed = json.loads(_cli("tasks", "stats", "flow.nap", "--json", *remote))
    assert printed == stats.model_dump(mode="json")
    assert f"{total} successful runs" in _cli("tasks", "stats", "flow.nap", *remote)

    # another project: neither the task's history nor the execution
    with Client(server.url, project=f"p{uuid.uuid4().hex[:6]}") as other:
        with pytest.raises(NotFoundError, match="no recorded runs"):
            other.task_stats("flow.nap")
        with pytest.raises(NotFoundError):
            other.anomalies(slow.id)


TICKER = """
import logging
import time

import airfoil as af


@af.task
def ticking(n: int) -> int:
    for i in range(n):
        print("tick", i, flush=True)
        time.sleep(0.3)
    logging.getLogger("ticker").warning("done after %d ticks", n)
    return n


@af.workflow
def ticks(n: int = 5) -> int:
    return ticking(n=n)
"""


def test_logs_follow_level_and_search_over_the_api(client: Any, server: Any, tmp_path: Any) -> None:
    import importlib
    import sys

    name = f"ticker_{uuid.uuid4().hex[:8]}"
    code = tmp_path / "tickproj"
    code.mkdir()
    (code / f"{name}.py").write_text(TICKER)
    sys.path.insert(0, str(code))
    try:
        module = importlib.import_module(name)
        client.register([module.ticks], source_dir=str(code))
    finally:
        sys.path.remove(str(code))
    ex = client.launch(f"{name}.ticks", {"n": 10})
    remote = ("--server", server.url, "--project", client.project)
    followed = _cli("logs", "-f", ex.id, *remote)  # returns when the execution has ended
    assert client.get(ex.id).phase == "succeeded"
    assert "== n0 attempt 1" in followed
    assert [line.split()[-1] for line in followed.splitlines() if " tick " in line] == [
        str(i) for i in range(10)
    ]
    assert f"execution {ex.id} succeeded" in followed

    warned = _cli("logs", ex.id, "--level", "WARNING", *remote)
    assert "ticker: done after 10 ticks" in warned and " tick " not in warned

    found = client.search_logs("TICK 7")
    assert [(m.execution_id, m.node_id, m.level, m.line) for m in found.matches] == [
        (ex.id, "n0", "OUT", "tick 7")
    ]
    printed = json.loads(_cli("logs", "--search", "done after", "--json", *remote))
    assert [m["level"] for m in printed["matches"]] == ["WARNING"]
    with Client(server.url, project=f"p{uuid.uuid4().hex[:6]}") as other:
        assert other.search_logs("tick").matches == []  # another project's logs: none

    # the level filter on the server: a node's log, and a search whose limit counts only
    # lines at the level (ignored before: the first OUT line 'tick 0' came back)
    log = client.logs(ex.id, "n0", level="warning").text
    assert "ticker: done after 10 ticks" in log and " tick " not in log
    assert client.logs(ex.id, "n0", level="ERROR").text == ""
    one = client.search_logs("tick", limit=1, level="WARNING")
    assert [(m.level, m.line) for m in one.matches] == [("WARNING", "ticker: done after 10 ticks")]
    for bad in (
        lambda: client.logs(ex.id, "n0", level="LOUD"),
        lambda: client.search_logs("tick", level="LOUD"),
    ):
        with pytest.raises(InvalidInputError, match=r"unknown log level 'LOUD'.*DEBUG, INFO"):
            bad()
