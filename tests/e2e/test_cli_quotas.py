"""``airfoil quotas`` and ``airfoil queue`` as a user types them: quotas stored and listed,
and the queue of a run in another process, with why its attempts wait."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from typing import Any

import pytest

pytestmark = [pytest.mark.e2e]

FLOW = textwrap.dedent(
    """
    import os
    import time
    import airfoil as af

    @af.task(requests=af.Resources(gpu=1))
    def train(x: int) -> int:
        # Held until the test has seen the queue: the others wait for the quota meanwhile,
        # however slowly a busy machine runs the test's polls.
        gate = os.environ.get("SWEEP_GATE")
        while gate and not os.path.exists(gate):
            time.sleep(0.05)
        return x

    @af.workflow
    def sweep(xs: list[int] = [0, 1, 2, 3, 4, 5]) -> list[int]:
        return af.map_task(train)(x=xs)
    """
)


def test_quotas_set_list_and_delete(cli: Any) -> None:
    r = cli(
        "quotas", "set", "vision", "--cpu", "8", "--mem", "4Gi", "--gpu", "2", "--priority", "3"
    )
    assert r.code == 0, r.err
    assert "vision" in r.err and "gpu=2" in r.err
    r = cli("quotas", "set", "nlp", "--gpu", "1", "--no-borrow", "--weight", "2")
    assert r.code == 0, r.err
    r = cli("quotas", "list", "--json")
    assert r.code == 0, r.err
    got = {q["project"]: q for q in r.json()}
    assert got["vision"]["cpu"] == 8.0 and got["vision"]["mem"] == 4 * 2**30
    assert got["vision"]["gpu"] == 2 and got["vision"]["priority"] == 3
    assert got["nlp"]["borrow"] is False and got["nlp"]["weight"] == 2.0
    table = cli("quotas", "list")
    assert "vision" in table.out and "4Gi" in table.out
    assert cli("quotas", "delete", "nlp").code == 0
    assert [q["project"] for q in cli("quotas", "list", "--json").json()] == ["vision"]
    missing = cli("quotas", "delete", "nlp")
    assert missing.code == 2 and "has no quota" in missing.err


def test_bad_quota_values_are_refused(cli: Any) -> None:
    r = cli("quotas", "set", "p", "--mem", "lots")
    assert r.code == 2 and "invalid memory" in r.err and "Traceback" not in r.err
    r = cli("quotas", "set", "p", "--weight", "0")
    assert r.code == 2 and "--weight" in r.err


def test_queue_shows_another_process_waiting_for_quota(
    cli: Any, tmp_path: Path, _airfoil_home: Path
) -> None:
    flow = tmp_path / "sweepflow.py"
    flow.write_text(FLOW)
    gate = tmp_path / "open-the-gate"
    assert cli("quotas", "set", "ml", "--gpu", "1", "--no-borrow").code == 0
    env = dict(
        os.environ,
        AIRFOIL_HOME=str(_airfoil_home),
        AIRFOIL_GPUS="2",
        AIRFOIL_PROJECT="ml",
        AIRFOIL_EXECUTOR="process",
        SWEEP_GATE=str(gate),
    )
    run = subprocess.Popen(
        [sys.executable, "-m", "airfoil.cli", "run", "--json", str(flow), "sweep"],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        rows: list[dict[str, Any]] = []
        waiting: list[dict[str, Any]] = []
        deadline = time.monotonic() + 60
        while not waiting and run.poll() is None and time.monotonic() < deadline:
            r = cli("queue", "--json")
            assert r.code == 0, r.err
            rows = r.json()
            waiting = [row for row in rows if row["state"] == "waiting"]
            time.sleep(0.2)
        assert waiting, "the run's queue never showed waiting attempts"
        # the quota's one GPU is held by the one attempt that runs (held at the gate)
        assert [row["state"] for row in rows].count("running") == 1, rows
        row = waiting[0]
        assert row["project"] == "ml" and row["gpu"] == 1 and row["task"].endswith("train")
        assert "quota" in row["reason"] and "ml" in row["reason"], row
        table = cli("queue")
        assert table.code == 0 and "waiting" in table.out, table.out
        gate.touch()  # the held attempt ends; the waiting ones run one at a time
        out, err = run.communicate(timeout=90)
        assert run.returncode == 0, err
        assert json.loads(out)["outputs"]["o0"] == list(range(6))
    finally:
        gate.touch()  # never leave a worker held
        if run.poll() is None:
            run.kill()
            run.communicate()
    # The run is over: its snapshot is empty (or gone).
    assert [row for row in cli("queue", "--json").json() if row["state"] == "waiting"] == []
