"""An attempt's log holds what it wrote to stdout AND stderr (through Python in-process; also
file descriptors, C code and subprocesses in a worker process), with secret values scrubbed;
attempts running at once never see each other's output; an output that holds a secret's value
fails the attempt and is never stored."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import threading
import time
import uuid
from pathlib import Path

import pytest
from _stored import assert_not_stored

import airfoil as af
from airfoil.engine.local import convert_inputs, spec_of
from airfoil.local import get_runtime

pytestmark = pytest.mark.integration

FLOW = textwrap.dedent(
    """
    import os
    import subprocess
    import sys
    import threading

    import airfoil as af


    @af.task(secret_requests=["token"])
    def noisy(x: int) -> int:
        token = af.current_context().secrets["token"]
        print("to stdout", x)
        print("to stderr", x, "token", token, file=sys.stderr)
        af.current_context().logger.warning("through the logger")
        t = threading.Thread(target=lambda: print("from a thread of the task", file=sys.stderr))
        t.start()
        t.join()
        if os.environ.get("FD_LEVEL"):
            sys.stderr.flush()
            os.write(2, b"straight to fd 2\\n")
            subprocess.run(
                [sys.executable, "-c", "import sys; print('from a subprocess', file=sys.stderr)"],
                check=True,
            )
        return x + 1


    @af.task(secret_requests=["token"])
    def returns_secret(x: int) -> str:
        return "the token is " + af.current_context().secrets["token"]


    @af.workflow
    def wf(x: int = 1) -> int:
        return noisy(x=x)


    @af.workflow
    def leak(x: int = 1) -> str:
        return returns_secret(x=x)
    """
)


def _cli(
    tmp_path: Path, *args: str, executor: str, secret: str
) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "AIRFOIL_HOME": str(tmp_path / "home"),
        "AIRFOIL_SECRET_TOKEN": secret,
        "AIRFOIL_EXECUTOR": executor,
    }
    if executor == "process":
        env["FD_LEVEL"] = "1"
    return subprocess.run(
        [sys.executable, "-m", "airfoil.cli", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
        cwd=tmp_path,
    )


@pytest.mark.parametrize("executor", ["inline", "process"])
def test_stdout_and_stderr_reach_the_attempt_log_scrubbed(tmp_path: Path, executor: str) -> None:
    secret = "tok-" + uuid.uuid4().hex
    (tmp_path / "flow.py").write_text(FLOW)
    run = _cli(tmp_path, "run", "--json", "flow.py", "wf", executor=executor, secret=secret)
    assert run.returncode == 0, run.stderr
    assert "to stderr" not in run.stderr and "from a thread" not in run.stderr  # captured
    assert secret not in run.stdout + run.stderr
    import json

    exec_id = json.loads(run.stdout)["execution_id"]
    logs = _cli(tmp_path, "logs", exec_id, executor=executor, secret=secret)
    assert logs.returncode == 0, logs.stderr
    text = logs.stdout
    for line in ("to stdout 1", "to stderr 1 token ***", "through the logger"):
        assert line in text, text
    assert "from a thread of the task" in text, text
    if executor == "process":  # the worker's file descriptors: C code, subprocesses
        assert "straight to fd 2" in text and "from a subprocess" in text, text
    assert secret not in text
    assert_not_stored(tmp_path / "home", secret)


@pytest.mark.parametrize("executor", ["inline", "process"])
def test_an_output_holding_a_secret_fails_and_is_never_stored(
    tmp_path: Path, executor: str
) -> None:
    secret = "tok-" + uuid.uuid4().hex
    (tmp_path / "flow.py").write_text(FLOW)
    run = _cli(tmp_path, "run", "--json", "flow.py", "leak", executor=executor, secret=secret)
    assert run.returncode != 0
    assert secret not in run.stdout + run.stderr
    assert "SecretOutputError" in run.stdout + run.stderr
    assert "holds the value of secret 'token'" in run.stdout + run.stderr
    assert_not_stored(tmp_path / "home", secret)


BOTH_RUNNING = threading.Barrier(2)


@af.task
def chatty(tag: str, n: int) -> str:
    BOTH_RUNNING.wait(timeout=30)  # the two attempts really run at once
    for i in range(n):
        print(f"out {tag} {i}")
        print(f"err {tag} {i}", file=sys.stderr)
        time.sleep(0.005)
    return tag


def _log_of(rt: object, execution_id: str) -> str:
    (att,) = rt.meta.get_attempts(execution_id, "n0")  # type: ignore[attr-defined]
    return rt.blobs.get_bytes(att.log_uri).decode()  # type: ignore[attr-defined]


def test_concurrent_inline_attempts_keep_their_own_output_and_the_process_keeps_its(
    capfd: pytest.CaptureFixture[str],
) -> None:
    rt = get_runtime()
    stop = threading.Event()

    def process_writer() -> None:  # the process's own writer, e.g. a CLI's live view
        while not stop.is_set():
            print("process line", file=sys.stderr)
            time.sleep(0.003)

    writer = threading.Thread(target=process_writer)
    writer.start()
    ids: dict[str, str] = {}

    def run(tag: str) -> None:
        engine = rt.engine("inline")
        values = convert_inputs(chatty, {"tag": tag, "n": 30}, rt)
        record = engine.launch(spec_of(chatty), values)
        ids[tag] = engine.drive(record.id).id

    threads = [threading.Thread(target=run, args=(tag,)) for tag in ("alpha", "beta")]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    stop.set()
    writer.join()
    for tag, other in (("alpha", "beta"), ("beta", "alpha")):
        log = _log_of(rt, ids[tag])
        assert f"out {tag} 29" in log and f"err {tag} 29" in log, log
        assert other not in log and "process line" not in log, log
    assert type(sys.stderr).__name__ != "_Router"  # the routers leave with the last attempt
    assert "process line" in capfd.readouterr().err
