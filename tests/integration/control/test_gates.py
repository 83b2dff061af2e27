"""Gates: sleep, wait_for_input, approve — durable waiting, typed signals, timeouts."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from datetime import timedelta
from pathlib import Path

import pytest
from _signals import send_when_waiting

import airfoil as af
from airfoil.core.errors import DefinitionError, InvalidInputError, NotFoundError
from airfoil.engine.signals import send_signal
from airfoil.local import get_runtime

pytestmark = pytest.mark.integration


@af.task
def make(x: int) -> int:
    return x * 2


@af.task
def use(x: int, threshold: float) -> str:
    return f"{x}>{threshold}" if x > threshold else f"{x}<={threshold}"


@af.workflow
def gated(x: int = 5) -> str:
    threshold = af.wait_for_input("threshold", timeout=timedelta(seconds=20), expected_type=float)
    approved = af.approve(make(x=x), "ship", timeout=timedelta(seconds=20))
    return use(x=approved, threshold=threshold)


@af.workflow
def napper() -> int:
    nap = af.sleep(timedelta(seconds=0.3))
    return nap >> make(x=1)


@af.workflow
def short_wait() -> float:
    return af.wait_for_input("never", timeout=0.3, expected_type=float)


def test_sleep_orders_the_next_node() -> None:
    t0 = time.perf_counter()
    assert napper() == 2
    assert time.perf_counter() - t0 >= 0.3


def test_input_and_approval_signals() -> None:
    threads = [send_when_waiting("threshold", "7.5"), send_when_waiting("ship", "true")]
    assert gated(x=5) == "10>7.5"
    for t in threads:
        t.join(5)


def test_rejection_and_timeout_fail_clearly() -> None:
    threads = [send_when_waiting("threshold", "1"), send_when_waiting("ship", "false")]
    with pytest.raises(af.ExecutionFailedError, match="'ship' was rejected"):
        gated(x=5)
    for t in threads:
        t.join(5)
    with pytest.raises(af.ExecutionFailedError, match=r"no signal .never. within 0\.3s"):
        short_wait()


def test_signal_errors(tmp_path: Path) -> None:
    rt = get_runtime()
    engine = rt.engine()
    from airfoil.local import convert_inputs, spec_of

    record = engine.launch(spec_of(gated), convert_inputs(gated, {"x": 1}, rt))
    with pytest.raises(InvalidInputError, match="expects float"):
        send_signal(rt.meta, rt.blobs, rt.types, record.id, "threshold", "not-a-number")
    with pytest.raises(InvalidInputError, match="expects bool"):
        send_signal(rt.meta, rt.blobs, rt.types, record.id, "ship", "maybe")
    with pytest.raises(NotFoundError, match="no gate named 'nope'"):
        send_signal(rt.meta, rt.blobs, rt.types, record.id, "nope", "1")
    send_signal(rt.meta, rt.blobs, rt.types, record.id, "threshold", "3")
    with pytest.raises(InvalidInputError, match="already sent"):
        send_signal(rt.meta, rt.blobs, rt.types, record.id, "threshold", "4")
    with pytest.raises(DefinitionError, match="inside a workflow"):
        af.sleep(1)
    with pytest.raises(DefinitionError, match="approves a promise"):

        @af.workflow
        def bad() -> int:
            return af.approve(3, "x", timeout=1)  # type: ignore[return-value]


GATE_SCRIPT = textwrap.dedent(
    """
    from datetime import timedelta
    import airfoil as af

    @af.task
    def double(x: float) -> float:
        return x * 2

    @af.workflow
    def wf() -> float:
        v = af.wait_for_input("v", timeout=timedelta(seconds=60), expected_type=float)
        return double(x=v)
    """
)


@pytest.mark.slow
@pytest.mark.timeout(120)
def test_waiting_survives_sigkill_and_signal_via_cli(tmp_path: Path) -> None:
    script = tmp_path / "gatewf.py"
    script.write_text(GATE_SCRIPT)
    env = dict(os.environ, AIRFOIL_HOME=str(tmp_path / "home"))
    cli = [sys.executable, "-m", "airfoil.cli"]
    proc = subprocess.Popen(
        [*cli, "run", "--name", "g1", str(script), "wf"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )
    deadline = time.time() + 30
    while time.time() < deadline:
        shown = subprocess.run(
            [*cli, "executions", "show", "g1", "--json"], env=env, capture_output=True, text=True
        )
        if shown.returncode == 0 and any(
            n["phase"] == "running" for n in json.loads(shown.stdout)["nodes"]
        ):
            break
        time.sleep(0.2)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait(timeout=10)
    bad = subprocess.run(
        [*cli, "signal", "g1", "v", "abc"], env=env, capture_output=True, text=True
    )
    assert bad.returncode == 2 and "expects float" in bad.stderr
    sent = subprocess.run(
        [*cli, "signal", "g1", "v", "2.5"], env=env, capture_output=True, text=True
    )
    assert sent.returncode == 0, sent.stderr
    resumed = subprocess.run(
        [*cli, "executions", "resume", "g1", "--json"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert resumed.returncode == 0, resumed.stderr
    assert json.loads(resumed.stdout)["outputs"] == {"o0": 5.0}
