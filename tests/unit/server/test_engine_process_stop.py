"""``EngineProcess.stop`` logs what happened (adv21): an engine process that was killed
before the stop, and reaped by another thread (the reader joins a process that died), was
logged "did not stop in 15 s: killed" at once (``is_alive()`` says True of a process another
thread reaped) and signalled again by its pid; one that outlives the wait is killed and
said so."""

from __future__ import annotations

import logging
import multiprocessing
import os
import signal
import time
from typing import Any

import pytest

from airfoil.server._engine_process import EngineProcess

pytestmark = pytest.mark.unit


def _sleep() -> None:
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    time.sleep(60)


def _engine(proc: Any) -> EngineProcess:
    engine = EngineProcess(None, lambda *a: None)  # type: ignore[arg-type]
    engine._proc = proc
    return engine


def test_an_engine_killed_and_reaped_before_the_stop_is_not_said_to_time_out(
    caplog: pytest.LogCaptureFixture,
) -> None:
    proc = multiprocessing.get_context("fork").Process(target=_sleep, daemon=True)
    proc.start()
    os.kill(proc.pid, signal.SIGKILL)
    os.waitpid(proc.pid, 0)  # as the reader thread's join does
    caplog.set_level(logging.INFO, logger="airfoil")
    started = time.monotonic()
    _engine(proc).stop(timeout_s=15.0)
    assert time.monotonic() - started < 5
    assert "did not stop" not in caplog.text


def test_an_engine_that_outlives_the_wait_is_killed_and_said_so(
    caplog: pytest.LogCaptureFixture,
) -> None:
    proc = multiprocessing.get_context("fork").Process(target=_sleep, daemon=True)
    proc.start()
    time.sleep(0.2)  # its SIGTERM handler set
    caplog.set_level(logging.INFO, logger="airfoil")
    _engine(proc).stop(timeout_s=1.0)
    assert proc.exitcode == -signal.SIGKILL
    assert "the engine process did not stop in 1 s: killed" in caplog.text
