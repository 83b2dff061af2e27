"""Per-thread capture of sys.stdout/sys.stderr into attempt logs (the in-process half of
attempt output capture; the worker's fd capture is tested through the process executor)."""

from __future__ import annotations

import io
import sys
import threading

import pytest

from airfoil.runtime._capture import capture_streams


def test_nested_captures_hand_the_thread_back_and_leave_no_router() -> None:
    before = (sys.stdout, sys.stderr)
    outer, inner = io.StringIO(), io.StringIO()
    with capture_streams(outer):
        print("caller before")
        with capture_streams(inner):  # an inline child attempt in the same thread
            print("child", file=sys.stderr)
        print("caller after", file=sys.stderr)
    assert outer.getvalue() == "caller before\ncaller after\n"
    assert inner.getvalue() == "child\n"
    assert (sys.stdout, sys.stderr) == before


def test_a_thread_the_attempt_starts_is_its_own_but_an_older_one_is_not() -> None:
    log = io.StringIO()
    go, done = threading.Event(), threading.Event()
    elsewhere = io.StringIO()

    def older() -> None:  # a thread of the process (a live view) that predates the attempt
        go.wait()
        sys.stdout.write("not the task's\n")
        done.set()

    t_old = threading.Thread(target=older)
    t_old.start()
    real = sys.stdout
    sys.stdout = elsewhere
    try:
        with capture_streams(log):
            t_new = threading.Thread(target=lambda: print("from the task's thread"))
            t_new.start()
            t_new.join()
            go.set()
            done.wait(5)
    finally:
        sys.stdout = real
        t_old.join()
    assert log.getvalue() == "from the task's thread\n"
    assert elsewhere.getvalue() == "not the task's\n"


def test_a_process_without_a_stream_drops_other_threads_writes(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(sys, "stderr", None)
    go = threading.Event()

    def older() -> None:  # predates the attempt: not adopted, and the process has no stderr
        go.wait()
        sys.stderr.write("dropped\n")

    other = threading.Thread(target=older)
    other.start()
    log = io.StringIO()
    with capture_streams(log):
        print("captured", file=sys.stderr)
        with pytest.raises(io.UnsupportedOperation):
            sys.stderr.fileno()
        go.set()
        other.join()
    assert log.getvalue() == "captured\n"
    assert sys.stderr is None


def test_a_hold_keeps_the_routers_between_attempts_and_captures_nothing_meanwhile(
    capsys: pytest.CaptureFixture[str],
) -> None:
    import logging

    from airfoil.runtime._capture import hold
    from airfoil.runtime._log_records import StampedLog

    root = logging.getLogger()
    before = (sys.stdout, sys.stderr)
    handlers = list(root.handlers)
    first, second = StampedLog(io.StringIO()), StampedLog(io.StringIO())
    with hold():  # a drive on the inline executor
        routers = (sys.stdout, sys.stderr)
        assert routers != before and root.handlers == handlers  # records: only while capturing
        with capture_streams(first):
            print("item one")
            logging.getLogger("task").warning("warned in one")
        print("between items")  # the engine's own output: the process's stream, as before
        with capture_streams(second):
            print("item two")
        assert (sys.stdout, sys.stderr) == routers  # set up once, not per attempt
    assert (sys.stdout, sys.stderr) == before and root.handlers == handlers
    one, two = first.sink.getvalue(), second.sink.getvalue()
    assert "item one" in one and "task: warned in one" in one and "item two" not in one
    assert "item two" in two and "item one" not in two
    assert "between" not in one + two and "between items" in capsys.readouterr().out


def test_an_inline_drive_leaves_the_streams_and_the_root_logger_as_it_found_them() -> None:
    import logging

    import airfoil as af

    @af.task
    def shout(x: int) -> int:
        print(f"item {x}")
        return x

    @af.workflow
    def each(xs: list[int]) -> list[int]:
        return af.map_task(shout)(x=xs)

    before = (sys.stdout, sys.stderr, list(logging.getLogger().handlers))
    assert each(xs=[1, 2, 3]) == [1, 2, 3]
    assert (sys.stdout, sys.stderr, list(logging.getLogger().handlers)) == before


def test_logging_configured_between_attempts_of_a_hold_takes_effect() -> None:
    # A worker holds the capture for its whole life, and an attempt imports its task module
    # before it captures: a module that calls logging.basicConfig at import did so with the
    # record handler of the hold on the root logger, so basicConfig (which does nothing when
    # the root has any handler) set no level, and the task's INFO record was never made.
    import logging

    from airfoil.runtime._capture import hold
    from airfoil.runtime._log_records import StampedLog

    root = logging.getLogger()
    level, handlers = root.level, root.handlers
    root.handlers = []  # a worker's root logger, as the program left it (pytest's put aside)
    log = StampedLog(io.StringIO())
    try:
        with hold():
            logging.basicConfig(level=logging.INFO, format="%(levelname)s:%(message)s")
            assert root.level == logging.INFO  # configured, as without a hold
            with capture_streams(log):
                logging.getLogger("mine").info("once only %d", 1)
    finally:
        root.handlers = handlers
        root.setLevel(level)
    text = log.sink.getvalue()
    assert text.count("mine: once only 1") == 1 and " INFO " in text, text


def test_fd_capture_reads_all_of_a_long_output_and_each_attempt_starts_empty() -> None:
    # What bypasses Python's streams (os.write, C code, subprocesses) goes to one in-memory
    # file reused by every attempt: read back whole however long, emptied for the next.
    import os

    from airfoil.runtime._capture import capture_fds

    long = b"x" * 150_000 + b"\n"
    first: list[str] = []
    with capture_fds(first):
        os.write(1, long)
        os.write(2, b"then fd 2\n")
    second: list[str] = []
    with capture_fds(second):
        os.write(1, b"short\n")
    third: list[str] = []
    with capture_fds(third):
        pass
    assert first == [long.decode() + "then fd 2\n"]
    assert second == ["short\n"] and third == []


def _run_in_child(body: object) -> bytes:
    """Run ``body()`` in a forked child whose fds 1/2 are a pipe; what reached them."""
    import os

    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child
        code = 1
        try:
            os.dup2(w, 1)
            os.dup2(w, 2)
            body()  # type: ignore[operator]
            code = 0
        finally:
            os._exit(code)
    os.close(w)
    chunks = []
    while chunk := os.read(r, 65536):
        chunks.append(chunk)
    os.close(r)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    return b"".join(chunks)


@pytest.mark.skipif(not hasattr(__import__("os"), "fork"), reason="needs fork")
def test_a_worker_holding_its_fds_captures_each_attempt_and_passes_on_the_rest() -> None:
    # A worker's whole life is one hold of fds 1/2 (WorkerRuntime.worker_session): attempts
    # capture what bypasses Python's streams as without it, and what is written between
    # attempts reaches the worker's own stderr, not an attempt's log.
    import json
    import os

    from airfoil.runtime._capture import capture_fds, hold_fds

    def worker() -> None:
        logs: list[list[str]] = []
        os.write(2, b"before the hold\n")
        with hold_fds():
            os.write(2, b"between: worker start\n")
            for i in range(3):
                logs.append([])
                with capture_fds(logs[-1]):
                    if i != 1:
                        os.write(1, f"attempt {i} out\n".encode())
                        os.write(2, f"attempt {i} err\n".encode())
                os.write(1, f"between: after {i}\n".encode())
            logs.append([])
            with capture_fds(logs[-1]):
                os.write(1, b"x" * 150_000 + b"\n")  # longer than one read
        os.write(2, b"after the hold\n")
        os.write(2, json.dumps(logs).encode() + b"\n")

    lines = _run_in_child(worker).decode().splitlines()
    *passed_on, logs = lines
    assert passed_on == [
        "before the hold",
        "between: worker start",
        "between: after 0",
        "between: after 1",
        "between: after 2",  # passed on when the hold ends
        "after the hold",
    ]
    assert json.loads(logs) == [
        ["attempt 0 out\nattempt 0 err\n"],
        [],
        ["attempt 2 out\nattempt 2 err\n"],
        ["x" * 150_000 + "\n"],
    ]


@pytest.mark.skipif(not hasattr(__import__("os"), "fork"), reason="needs fork")
def test_a_hold_inside_a_hold_does_nothing_and_the_fds_come_back() -> None:
    import os

    from airfoil.runtime._capture import capture_fds, hold_fds

    def worker() -> None:
        before = (os.fstat(1).st_ino, os.fstat(2).st_ino)
        log: list[str] = []
        with hold_fds():
            with hold_fds():
                os.write(1, b"inner\n")
            os.write(1, b"outer\n")  # still held: passed on when the outer hold ends
            with capture_fds(log):
                os.write(2, b"captured\n")
        assert (os.fstat(1).st_ino, os.fstat(2).st_ino) == before
        assert log == ["captured\n"], log

    assert _run_in_child(worker) == b"inner\nouter\n"
