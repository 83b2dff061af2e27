"""Distributed training on real GPUs with NCCL (issue 13, section 3: "where a GPU is available,
run the same with nccl"). Skipped on machines without CUDA (CI has none); run where one is:

    PYTHONPATH=src python -m pytest -m gpu tests/integration/training/test_training_gpu.py

One rank per GPU (at most 2; one on a one-GPU machine), each pinned to its GPU by the engine's
admission (``CUDA_VISIBLE_DEVICES``), DDP over NCCL, a checkpoint every 4 steps saved from the
GPU. A rank SIGKILLed mid-training makes the gang restart inside the same attempt from the
checkpoint, and the final loss equals an uninterrupted run's with the same seed. A gang asking
for more GPUs than the machine has is refused at launch, before anything runs.
"""

from __future__ import annotations

import os
import signal
import sys
import threading
import time
from pathlib import Path
from types import ModuleType

import pytest

from airfoil.core.errors import AirfoilError
from airfoil.local import LocalRuntime
from airfoil.settings import AirfoilSettings
from airfoil.types import ValueContext

pytestmark = [pytest.mark.integration, pytest.mark.gpu]


@pytest.fixture(autouse=True, scope="module")
def _needs_cuda() -> None:
    """Skip without torch or a CUDA GPU; asked when the tests run, not while collecting
    (importing torch takes seconds, and most runs collect this module only to skip it)."""
    torch = pytest.importorskip("torch")
    if not torch.cuda.is_available():
        pytest.skip("needs a CUDA GPU")


HERE = Path(__file__).parent
sys.path.insert(0, str(HERE))


def _flow() -> ModuleType:
    """The GPU flow, imported when a test runs: it asks torch for the GPUs at import."""
    import _ddp_gpu_flow

    return _ddp_gpu_flow


STEPS, EVERY, SEED = 12, 4, 11


def _launch(rt: LocalRuntime, wf: object, **raw: object) -> str:
    ctx = ValueContext(blobs=rt.blobs)
    inputs = {k: rt.types.to_value(v, type(v), ctx) for k, v in raw.items()}
    spec = wf.spec  # type: ignore[attr-defined]
    return rt.engine().launch(spec, inputs, code_root=str(HERE)).id


def _train(tmp: Path, delay: float, kill_at: int | None) -> tuple[float, list[tuple[int, int]]]:
    marks = tmp / "marks"
    marks.mkdir(parents=True)
    rt = LocalRuntime(AirfoilSettings(home=str(tmp / "home"), executor="process"))
    try:
        eid = _launch(
            rt,
            _flow().ddp_gpu,
            steps=STEPS,
            every=EVERY,
            seed=SEED,
            delay=delay,
            marks=str(marks),
        )
        killer = None
        if kill_at is not None:
            killer = threading.Thread(target=_kill_when, args=(marks, kill_at), daemon=True)
            killer.start()
        record = rt.engine().drive(eid)
        if killer is not None:
            killer.join(5)
        assert record.phase == "succeeded", record.error
        assert [a.attempt for a in rt.meta.get_attempts(eid)] == [1]  # restarts inside it
        for rank in range(_flow().WORKERS):
            name, visible, backend = (marks / f"rank{rank}.device").read_text().strip().split("|")
            assert backend == "nccl" and visible, (name, visible, backend)
        visible_sets = {
            (marks / f"rank{r}.device").read_text().split("|")[1] for r in range(_flow().WORKERS)
        }
        assert len(visible_sets) == 1  # the gang's GPUs, one each by LOCAL_RANK
        rows = [
            (int(g), int(s))
            for _, g, s in (line.split() for line in (marks / "steps.log").read_text().splitlines())
        ]
        outputs = rt.meta.get_execution(eid).outputs
        assert outputs is not None
        value = outputs["o0"]
        loss = float(rt.types.to_python(value, float, ValueContext(blobs=rt.blobs)))
        return loss, rows
    finally:
        rt.close()


def _kill_when(marks: Path, step: int, timeout: float = 180.0) -> None:
    progress = marks / "rank0.progress"
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            pid, at = map(int, progress.read_text().split()[:2])
        except (OSError, ValueError):
            time.sleep(0.02)
            continue
        if at >= step:
            os.kill(pid, signal.SIGKILL)
            return
        time.sleep(0.02)


@pytest.mark.slow
@pytest.mark.timeout(300)
def test_nccl_gang_on_the_gpu_restarts_from_its_checkpoint(tmp_path: Path) -> None:
    reference, rows = _train(tmp_path / "ref", delay=0.0, kill_at=None)
    assert rows == [(0, s) for s in range(STEPS)]
    loss, rows = _train(tmp_path / "killed", delay=0.2, kill_at=6)
    first = [s for g, s in rows if g == 0]
    second = [s for g, s in rows if g == 1]
    assert second, f"the gang never restarted: {rows}"
    assert second[0] % EVERY == 0 and second == list(range(second[0], STEPS))
    assert 0 <= len(first) + len(second) - STEPS <= EVERY  # at most one interval repeated
    assert loss == pytest.approx(reference, rel=1e-4, abs=1e-6)


def test_a_gang_asking_more_gpus_than_the_machine_has_is_refused_at_launch(
    tmp_path: Path,
) -> None:
    rt = LocalRuntime(AirfoilSettings(home=str(tmp_path / "home"), executor="process"))
    try:
        with pytest.raises(AirfoilError, match=r"(?i)gpu"):
            _launch(rt, _flow().too_many_gpus, x=1)
        assert rt.meta.list_executions() == []
    finally:
        rt.close()
