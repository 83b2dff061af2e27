"""``airfoil executions abort`` reaches a local run that waits out a retry's backoff.

A drive with nothing running slept each timer out whole before asking its executor again,
and the executor's poll is where a local drive's ``TerminateWatch`` reads an abort (and a
server's slot its terminate requests and its stop): a run between two attempts of a failing
task went on for the rest of the backoff (up to 30 s by default) after the abort. Now the
sleep is cut into pieces of ``EngineSettings.control_poll_s``.
"""

from __future__ import annotations

import dataclasses
import threading
import time

import pytest

import airfoil as af
from airfoil.engine.control import TerminateWatch, drive_watched, request_terminate
from airfoil.local import convert_inputs, get_runtime, spec_of

pytestmark = pytest.mark.integration

#: The backoff before the second attempt: the drive sleeps this long on its retry timer.
BACKOFF_S = 60.0
#: Well under the backoff, well over the watch's period (0.5 s) and a loaded host's slack.
ABORTED_WITHIN_S = 15.0


@af.task(retries=3)
def always_fails(x: int) -> int:
    raise ValueError(f"no good: {x}")


@af.workflow
def failing(x: int = 1) -> int:
    return always_fails(x=x)


def test_an_abort_ends_a_run_waiting_out_a_retry_backoff() -> None:
    rt = get_runtime()
    watch = TerminateWatch(rt.executor("inline"), rt.meta, "")
    settings = dataclasses.replace(rt.engine_settings(), retry_backoff_s=BACKOFF_S)
    engine = rt.engine(watch, settings=settings)
    inputs = convert_inputs(failing, {"x": 1}, rt)
    record = engine.launch(spec_of(failing), inputs)  # not kept: the drive loads it with `settings`
    ended: list[object] = []
    driving = threading.Thread(
        target=lambda: ended.append(drive_watched(engine, watch, record.id)), daemon=True
    )
    driving.start()
    deadline = time.monotonic() + 60
    while rt.meta.get_node(record.id, "n0").phase != "retrying":
        assert time.monotonic() < deadline and driving.is_alive(), "never retrying"
        time.sleep(0.05)
    asked = time.monotonic()
    request_terminate(rt.meta, rt.meta.get_execution(record.id), "aborted by the test", time.time())
    driving.join(ABORTED_WITHIN_S)
    took = time.monotonic() - asked
    assert not driving.is_alive(), f"the run slept on in its {BACKOFF_S:.0f} s backoff"
    (final,) = ended
    assert getattr(final, "phase", None) == "aborted", final
    assert took < ABORTED_WITHIN_S
    assert rt.meta.get_node(record.id, "n0").attempts == 1  # no attempt after the abort
