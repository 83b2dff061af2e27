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
