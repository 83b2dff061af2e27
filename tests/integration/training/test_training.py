"""Distributed training tasks on the process and ray executors: a gang of ranks with the
collective environment, rank 0's output, per-rank logs, and a worker killed mid-training
that makes the whole gang restart from its latest checkpoint (real torch DDP, gloo, CPU).

The ray cases run on the session's local Ray (2 CPUs): the gang's placement group takes both.
"""

from __future__ import annotations

import json
import os
import signal
import sys
import time
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from airfoil.local import LocalRuntime
from airfoil.runtime._training import rank_log_key
from airfoil.settings import AirfoilSettings
from airfoil.types import ValueContext

pytestmark = [pytest.mark.integration]

HERE = Path(__file__).parent
sys.path.insert(0, str(HERE))

import _ddp_flow  # noqa: E402
import _gang_flow  # noqa: E402

STEPS, EVERY, SEED = 16, 4, 7
EXECUTORS = ["process", "ray"]


class Run:
    """One engine over a fresh home, on one executor."""

    def __init__(self, tmp: Path, executor: str) -> None:
        self.rt = LocalRuntime(AirfoilSettings(home=str(tmp / "home"), executor=executor))
        self.marks = tmp / "marks"
        self.marks.mkdir()
        self.engine = self.rt.engine()

    def launch(self, wf: Any, **raw: Any) -> str:
        ctx = ValueContext(blobs=self.rt.blobs)
        raw.setdefault("marks", str(self.marks))
        inputs = {k: self.rt.types.to_value(v, type(v), ctx) for k, v in raw.items()}
        return self.engine.launch(wf.spec, inputs, code_root=str(HERE)).id

    def drive(self, execution_id: str) -> Any:
        return self.engine.drive(execution_id)

    def output(self, execution_id: str, kind: type) -> Any:
        record = self.rt.meta.get_execution(execution_id)
        ctx = ValueContext(blobs=self.rt.blobs)
        return self.rt.types.to_python(record.outputs["o0"], kind, ctx)

    def log(self, execution_id: str, key: str | None = None) -> str:
        if key is None:
            (attempt,) = self.rt.meta.get_attempts(execution_id)
            return self.rt.blobs.get_bytes(attempt.log_uri).decode()
        return self.rt.blobs.get_bytes(self.rt.blobs.uri(key)).decode()

    def close(self) -> None:
        self.rt.close()


@pytest.fixture
def run(tmp_path: Path, executor: str) -> Iterator[Run]:
    r = Run(tmp_path, executor)
    yield r
    r.close()


def _uninterrupted_loss(tmp: Path) -> float:
    r = Run(tmp, "process")
    try:
        eid = r.launch(_ddp_flow.ddp, steps=STEPS, every=EVERY, seed=SEED, delay=0.0)
        record = r.drive(eid)
        assert record.phase == "succeeded", record.error
        steps = [line.split()[:3] for line in (r.marks / "steps.log").read_text().splitlines()]
        assert steps == [["1", "0", str(s)] for s in range(STEPS)]  # one start, each step once
        loss: float = r.output(eid, float)
        return loss
    finally:
        r.close()


@pytest.fixture(scope="module")
def reference_loss(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Future[float]]:
    """The final loss of an uninterrupted run (process executor, same seed), computed in a
    thread while the first test that asks for it runs its own (killed) run: ``.result()``
    where the test compares. Computed before, it was ~10 s of that test's set-up, most of it
    the ranks starting and importing torch while the other run waits on its own ranks."""
    pytest.importorskip("torch")
    with ThreadPoolExecutor(1, thread_name_prefix="reference") as pool:
        future = pool.submit(_uninterrupted_loss, tmp_path_factory.mktemp("reference"))
        yield future


def _kill_rank_when(marks: Path, rank: int, step: int, timeout: float = 120.0) -> int:
    """SIGKILL ``rank``'s process once it reports ``step`` (in the gang's first start)."""
    progress = marks / f"rank{rank}.progress"
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            pid, at = map(int, progress.read_text().split()[:2])
        except (OSError, ValueError):
            time.sleep(0.02)
            continue
        if at >= step:
            os.kill(pid, signal.SIGKILL)
            return at
        time.sleep(0.02)
    raise AssertionError(f"rank {rank} never reached step {step}")


@pytest.mark.slow
@pytest.mark.timeout(240)
@pytest.mark.parametrize("executor", EXECUTORS)
def test_a_killed_worker_restarts_the_gang_from_its_checkpoint(
    run: Run, reference_loss: Future[float]
) -> None:
    import threading

    eid = run.launch(_ddp_flow.ddp, steps=STEPS, every=EVERY, seed=SEED, delay=0.15)
    killed: list[int] = []
    killer = threading.Thread(target=lambda: killed.append(_kill_rank_when(run.marks, 1, 6)))
    killer.start()
    record = run.drive(eid)
    killer.join()
    assert record.phase == "succeeded", record.error
    # The whole run took one attempt: the gang restart used neither retries nor a new attempt.
    attempts = run.rt.meta.get_attempts(eid)
    assert [a.attempt for a in attempts] == [1]
    # Rank 0 ran every step; after the restart it resumed at the last checkpoint.
    lines = (run.marks / "steps.log").read_text().splitlines()
    rows = [(int(line.split()[1]), int(line.split()[2])) for line in lines]
    first = [s for g, s in rows if g == 0]
    second = [s for g, s in rows if g == 1]
    assert second, f"the gang never restarted: {rows}"
    resumed = second[0]
    assert resumed > 0 and resumed % EVERY == 0, rows
    assert second == list(range(resumed, STEPS))
    assert set(first) | set(second) == set(range(STEPS))
    repeated = len(first) + len(second) - STEPS
    assert 0 <= repeated <= EVERY, rows
    # Same seed, same data per step, the optimizer's state restored: the same final loss.
    loss = run.output(eid, float)
    assert loss == pytest.approx(reference_loss.result(timeout=180), rel=1e-4, abs=1e-6)
    log = run.log(eid)
    assert "gang start 1" in log and f"resuming from checkpoint step {resumed}" in log
    assert "rank 1" in log  # which rank failed
    for rank in (0, 1):
        text = run.log(eid, rank_log_key(eid, "n0", 1, rank))
        assert "--- gang start 0" in text and "--- gang start 1" in text
        assert f"rank {rank} step {STEPS - 1}" in text


@pytest.mark.timeout(120)
@pytest.mark.parametrize("executor", EXECUTORS)
def test_each_rank_gets_the_collective_environment_and_rank_0_answers(run: Run) -> None:
    eid = run.launch(_gang_flow.probe_wf)
    record = run.drive(eid)
    assert record.phase == "succeeded", record.error
    envs = [json.loads((run.marks / f"env-{r}.json").read_text()) for r in (0, 1)]
    out = run.output(eid, dict[str, str])
    assert out == envs[0]
    assert [e["RANK"] for e in envs] == ["0", "1"]
    assert {e["WORLD_SIZE"] for e in envs} == {"2"}
    assert [e["LOCAL_RANK"] for e in envs] == ["0", "1"]  # one node here
    assert {e["LOCAL_WORLD_SIZE"] for e in envs} == {"2"}
    assert len({(e["MASTER_ADDR"], e["MASTER_PORT"]) for e in envs}) == 1
    assert int(envs[0]["MASTER_PORT"]) > 0
    assert {e["backend"] for e in envs} == {"gloo"}
    assert envs[0]["pid"] != envs[1]["pid"]
    for rank in (0, 1):
        assert f"hello from rank {rank}" in run.log(eid, rank_log_key(eid, "n0", 1, rank))


@pytest.mark.timeout(120)
@pytest.mark.parametrize(
    ("executor", "restarts"), [("process", 1), ("ray", 0)]
)  # on Ray one start only: each start there costs new actors (seconds)
def test_a_rank_that_keeps_failing_fails_the_task_as_a_user_error(run: Run, restarts: int) -> None:
    started = time.monotonic()
    wf = _gang_flow.failing_wf if restarts else _gang_flow.failing_at_once_wf
    eid = run.launch(wf)
    record = run.drive(eid)
    assert record.phase == "failed"
    (attempt,) = run.rt.meta.get_attempts(eid)
    assert attempt.error is not None and attempt.error.kind == "user"
    assert "rank one cannot go on" in attempt.error.message
    assert f"max_restarts={restarts}" in attempt.error.message
    assert "_rank_one_fails" in attempt.error.message  # the rank's traceback
    starts = sorted((run.marks / "starts.log").read_text().splitlines())
    # Both ranks, in every gang start.
    assert starts == sorted(f"{r} {s}" for r in (0, 1) for s in range(restarts + 1))
    assert time.monotonic() - started < 30  # rank 0 was stopped, not waited for


@pytest.mark.timeout(180)
@pytest.mark.parametrize("executor", EXECUTORS)
def test_rank_logs_are_readable_while_the_ranks_run(run: Run, tmp_path: Path) -> None:
    """Each rank's output reaches its log blob while the gang runs (not only at its end),
    every line once; ``airfoil logs EXEC NODE --rank R`` prints it, and a rank the task does
    not have is a clear error."""
    import threading

    from typer.testing import CliRunner

    from airfoil.cli.main import app

    eid = run.launch(_gang_flow.chatty_wf)
    records: list[Any] = []
    driver = threading.Thread(target=lambda: records.append(run.drive(eid)), daemon=True)
    driver.start()
    keys = [rank_log_key(eid, "n0", 1, r) for r in (0, 1)]

    def text(key: str) -> str:
        uri = run.rt.blobs.uri(key)
        return run.rt.blobs.get_bytes(uri).decode() if run.rt.blobs.exists(uri) else ""

    deadline = time.monotonic() + 120
    while not all(f"rank {r} tick 2" in text(k) for r, k in enumerate(keys)):
        assert time.monotonic() < deadline, [text(k) for k in keys]
        assert driver.is_alive(), records
        time.sleep(0.1)
    assert driver.is_alive()  # read while the ranks wait for "go"
    assert all("done" not in text(k) for k in keys)
    (run.marks / "go").write_text("")
    driver.join(120)
    assert records and records[0].phase == "succeeded", records
    for rank, key in enumerate(keys):
        final = text(key)
        assert final.count("--- gang start 0 on ") == 1, final
        for line in [f"rank {rank} tick {i}" for i in range(3)] + [f"rank {rank} done"]:
            assert final.count(line) == 1, final

    env = {"AIRFOIL_HOME": run.rt.settings.home, "COLUMNS": "200"}
    shown = CliRunner().invoke(app, ["logs", eid, "n0", "--rank", "1"], env=env)
    assert shown.exit_code == 0, shown.output
    assert "== n0 attempt 1 rank 1 (succeeded)" in shown.output
    assert "rank 1 tick 0" in shown.output and "rank 0 tick 0" not in shown.output
    followed = CliRunner().invoke(app, ["logs", "-f", eid, "n0", "--rank", "0"], env=env)
    assert followed.exit_code == 0, followed.output
    assert "rank 0 done" in followed.output and "rank 1 tick" not in followed.output
    missing = CliRunner().invoke(app, ["logs", eid, "n0", "--rank", "7"], env=env)
    assert missing.exit_code != 0
    assert "no attempt of n0" in missing.output and "has a log of rank 7" in missing.output
