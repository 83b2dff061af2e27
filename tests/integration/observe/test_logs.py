"""Task logs with levels and timestamps (issue 15): prints and ``logging`` records keep their
level and time in the stored log (inline and process executors, no record twice when the
task configures logging itself), ``airfoil logs --level`` filters them, ``-f`` follows a
running execution until it ends, and ``--search`` finds lines across runs (bounded)."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from airfoil.core.log_lines import entries

pytestmark = pytest.mark.integration

FLOW = textwrap.dedent(
    """
    import logging
    import os
    import sys
    import time

    import airfoil as af

    log = logging.getLogger("flowlog")


    @af.task
    def chatty(n: int) -> int:
        print("hello", n)
        log.warning("careful %d", n)
        log.info("hidden: the logger is at WARNING")
        af.current_context().logger.info("from the context logger")
        print("to stderr", file=sys.stderr)
        try:
            1 / 0
        except ZeroDivisionError:
            log.exception("caught it")
        if n < 0:
            raise ValueError("negative")
        return n


    @af.workflow
    def talk(n: int = 1) -> int:
        return chatty(n=n)


    @af.task
    def ticking(n: int) -> int:
        gate = os.environ.get("TICK_GATE")  # the last tick waits until the test opens it
        for i in range(n):
            while gate and i == n - 1 and not os.path.exists(gate):
                time.sleep(0.05)
            print("tick", i, flush=True)
            time.sleep(0.4)
        return n


    @af.workflow
    def ticks(n: int = 5) -> int:
        return ticking(n=n)
    """
)

CONFIGURED = textwrap.dedent(
    """
    import logging

    import airfoil as af

    logging.basicConfig(level=logging.INFO, format="%(levelname)s:%(message)s")


    @af.task
    def configured(n: int) -> int:
        logging.getLogger("mine").info("once only %d", n)
        return n


    @af.workflow
    def wf(n: int = 1) -> int:
        return configured(n=n)
    """
)


def _cli(tmp_path: Path, *args: str, ok: bool = True) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(
        [sys.executable, "-m", "airfoil.cli", *args],
        cwd=tmp_path,
        env=dict(os.environ, COLUMNS="200"),
        capture_output=True,
        text=True,
        timeout=120,
    )
    if ok:
        assert proc.returncode == 0, proc.stderr
    return proc


@pytest.fixture
def work(tmp_path: Path) -> Path:
    (tmp_path / "flow.py").write_text(FLOW)
    (tmp_path / "configured.py").write_text(CONFIGURED)
    return tmp_path


@pytest.mark.parametrize("executor", ["inline", "process"])
def test_prints_and_records_keep_their_level_and_time(work: Path, executor: str) -> None:
    _cli(work, "run", "--executor", executor, "--name", "talk-1", "flow.py", "talk", "--n", "3")
    failed = _cli(
        work,
        "run",
        "--executor",
        executor,
        "--name",
        "talk-2",
        "flow.py",
        "talk",
        "--n",
        "-1",
        ok=False,
    )
    assert failed.returncode != 0
    data = json.loads(_cli(work, "logs", "talk-1", "n0", "--json").stdout)
    log = data[0]["log"]
    got = [(e.level, e.text.splitlines()[0]) for e in entries(log)]
    assert got == [
        ("OUT", "hello 3"),
        ("WARNING", "flowlog: careful 3"),
        ("INFO", "airfoil.task.flow.chatty: from the context logger"),
        ("ERR", "to stderr"),
        ("ERROR", "flowlog: caught it"),
    ], log
    assert "hidden" not in log
    caught = list(entries(log))[-1].text
    assert "Traceback (most recent call last)" in caught and "ZeroDivisionError" in caught
    stamps = [e.at for e in entries(log)]
    assert all(re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", s) for s in stamps)
    assert stamps == sorted(stamps)

    # the failed attempt's traceback is its last entry, at ERROR
    last = list(entries(json.loads(_cli(work, "logs", "talk-2", "--json").stdout)[0]["log"]))[-1]
    assert last.level == "ERROR" and "ValueError: negative" in last.text

    warned = _cli(work, "logs", "talk-1", "n0", "--level", "WARNING").stdout
    assert "careful 3" in warned and "to stderr" in warned and "caught it" in warned
    assert "ZeroDivisionError" in warned  # the record's traceback lines stay with it
    assert "hello 3" not in warned and "context logger" not in warned
    errors = _cli(work, "logs", "talk-1", "--level", "error").stdout
    assert "caught it" in errors and "careful" not in errors and "to stderr" not in errors
    bad = _cli(work, "logs", "talk-1", "--level", "LOUD", ok=False)
    assert bad.returncode != 0 and "unknown log level 'LOUD'" in bad.stderr


def test_a_task_that_configures_logging_logs_each_record_once(work: Path) -> None:
    for executor in ("inline", "process"):
        name = f"conf-{executor}"
        _cli(work, "run", "--executor", executor, "--name", name, "configured.py", "wf")
        log = json.loads(_cli(work, "logs", name, "--json").stdout)[0]["log"]
        assert [(e.level, e.text) for e in entries(log)] == [("INFO", "mine: once only 1")], log


def test_follow_prints_a_running_execution_until_it_ends(work: Path) -> None:
    # The last tick waits at a gate the test opens once the follower has printed ticks of
    # the running attempt: on a busy machine the follower's start took longer than the
    # 20 ticks, and it found the execution already ended ('(succeeded)', not '(running)').
    gate = work / "open-the-gate"
    args = ["run", "--name", "tick-1", "flow.py", "ticks", "--n", "20"]
    env = dict(os.environ, COLUMNS="200", TICK_GATE=str(gate))
    run = subprocess.Popen(
        [sys.executable, "-m", "airfoil.cli", *args],
        cwd=work,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    out, err = work / "follow.out", work / "follow.err"
    follower = None
    try:
        deadline = time.monotonic() + 60
        while _cli(work, "executions", "show", "tick-1", "--json", ok=False).returncode != 0:
            assert time.monotonic() < deadline and run.poll() is None
            time.sleep(0.1)
        with out.open("w") as o, err.open("w") as e:
            follower = subprocess.Popen(
                [sys.executable, "-m", "airfoil.cli", "logs", "-f", "tick-1"],
                cwd=work,
                env=env,
                stdout=o,
                stderr=e,
            )
        deadline = time.monotonic() + 90
        while "tick 18" not in out.read_text():  # followed while it runs, up to the gate
            assert time.monotonic() < deadline and follower.poll() is None, out.read_text()
            time.sleep(0.1)
        gate.touch()
        assert follower.wait(60) == 0, err.read_text()
        assert run.wait(60) == 0
    finally:
        gate.touch()
        for proc in (run, follower):
            if proc is not None and proc.poll() is None:
                proc.kill()
    stdout = out.read_text()
    lines = [e.text for e in entries(stdout.split("\n", 1)[1])]
    assert lines == [f"tick {i}" for i in range(20)], stdout
    assert stdout.startswith("== n0 attempt 1 (running)")
    assert "execution tick-1 succeeded" in err.read_text()
    # following an ended execution prints it whole and stops; --level applies
    again = _cli(work, "logs", "-f", "tick-1", "--level", "WARNING")
    assert "tick" not in again.stdout and "succeeded" in again.stderr
    missing = _cli(work, "logs", "-f", "nope", ok=False)
    assert missing.returncode != 0 and "nope" in missing.stderr


def test_search_finds_lines_across_runs_within_its_bounds(work: Path) -> None:
    for i in range(3):
        _cli(work, "run", "--name", f"s-{i}", "flow.py", "talk", "--n", str(10 + i))
    found = json.loads(_cli(work, "logs", "--search", "CAREFUL", "--json").stdout)
    assert [(m["name"], m["line"]) for m in found["matches"]] == [
        ("s-2", "flowlog: careful 12"),
        ("s-1", "flowlog: careful 11"),
        ("s-0", "flowlog: careful 10"),
    ]
    assert found["matches"][0]["level"] == "WARNING"
    assert (found["runs"], found["logs"], found["complete"]) == (3, 3, True)
    bounded = json.loads(_cli(work, "logs", "--search", "careful", "--runs", "2", "--json").stdout)
    assert [m["name"] for m in bounded["matches"]] == ["s-2", "s-1"]
    assert bounded["complete"] is False
    one = json.loads(_cli(work, "logs", "--search", "e", "--limit", "1", "--json").stdout)
    assert len(one["matches"]) == 1 and one["complete"] is False
    text = _cli(work, "logs", "--search", "careful", "--since", "1h")
    assert "s-1 n0 #1" in text.stdout and "3 lines in 3 logs of the newest 3 runs" in text.stderr
    errors = json.loads(_cli(work, "logs", "--search", "e", "--level", "ERROR", "--json").stdout)
    assert {m["level"] for m in errors["matches"]} == {"ERROR"}
    # --limit counts lines at --level (it counted every line before: 'hello 12' (OUT) was
    # found first, then dropped, and the answer was empty)
    first = json.loads(
        _cli(work, "logs", "--search", "e", "--level", "ERROR", "--limit", "1", "--json").stdout
    )
    assert [m["level"] for m in first["matches"]] == ["ERROR"]
    assert _cli(work, "logs", "--search", "careful", "--since", "0s").stdout == ""
    for args, message in (
        (("--search", "x", "s-1"), "--search looks across runs"),
        (("--search", "x", "--since", "7 parsecs"), "--since"),
        (("--search", " "), "1 to 500 characters"),
    ):
        bad = _cli(work, "logs", *args, ok=False)
        assert bad.returncode != 0 and message in bad.stderr, bad.stderr


def test_the_record_handler_is_on_the_root_logger_only_while_attempts_run() -> None:
    import logging
    import threading

    from airfoil.runtime._capture import capture_streams, current_log
    from airfoil.runtime._log_records import StampedLog

    root = logging.getLogger()
    before = list(root.handlers)
    sink = StampedLog(__import__("io").StringIO())
    seen: list[str] = []
    with capture_streams(sink):
        logging.getLogger("inside").warning("in the attempt")
        assert "RecordHandler" in [type(h).__name__ for h in root.handlers]
        other = threading.Thread(target=lambda: seen.append(str(current_log())))
        other.start()  # started while the attempt runs: the attempt's thread
        other.join()
    assert "inside: in the attempt" in sink.sink.getvalue()
    assert seen and "StampedLog" in seen[0]
    assert current_log() is None
    # off the root once no attempt captures: a program's own basicConfig still works
    assert root.handlers == before
