"""What an in-process attempt keeps while a drive's session holds the capture (issue 17's lean
attempt: the routers and the logging record handler stay installed from one attempt to the
next): each attempt's prints and records in its own log, two attempts in threads at once
included; the live copy of a running attempt's log; ``logging.basicConfig`` in a task module
imported between attempts; a task that replaces ``sys.stdout`` itself."""

from __future__ import annotations

import importlib
import io
import logging
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

import airfoil as af
from airfoil.core.blobs import BlobStore
from airfoil.executors.base import AttemptRequest, AttemptResult, live_log_key
from airfoil.runtime.worker import WorkerRuntime
from airfoil.sdk import _task
from airfoil.store.blob import LocalBlobStore
from airfoil.types import ValueContext, default_type_engine

pytestmark = pytest.mark.unit

_BARRIER = threading.Barrier(2, timeout=10)
_SEEN_LIVE: list[bool] = []


@af.task
def _talks(who: str) -> str:
    print(f"print of {who}")
    _BARRIER.wait()  # both attempts are capturing now
    logging.getLogger("talk").warning("record of %s", who)
    _BARRIER.wait()
    print(f"end of {who}")
    return who


@af.task
def _says(who: str) -> str:
    print(f"print of {who}")
    logging.getLogger("say").warning("record of %s", who)
    return who


@af.task
def _swaps_stdout(who: str) -> str:
    sys.stdout = io.StringIO()  # the task's own stream, left in place
    print("into the task's own stream")
    return who


@af.task
def _waits_for_its_live_copy(who: str) -> str:
    print(f"tick of {who}", flush=True)
    blobs = af.current_context().blobs
    assert blobs is not None
    copy = blobs.uri(live_log_key("logs/ex/live/1.log"))
    deadline = time.monotonic() + 10
    while not blobs.exists(copy) and time.monotonic() < deadline:
        time.sleep(0.05)
    _SEEN_LIVE.append(blobs.exists(copy))
    return who


@pytest.fixture()
def blobs(tmp_path: Path) -> LocalBlobStore:
    return LocalBlobStore(str(tmp_path / "blobs"))


@pytest.fixture()
def bare_root() -> Iterator[logging.Logger]:
    """The root logger as a program leaves it (pytest's handlers put aside meanwhile)."""
    root = logging.getLogger()
    level, handlers = root.level, root.handlers
    root.handlers = []
    root.setLevel(logging.WARNING)
    try:
        yield root
    finally:
        root.handlers = handlers
        root.setLevel(level)


def _request(blobs: BlobStore, task: af.TaskDef, node: str, **kw: object) -> AttemptRequest:
    value = default_type_engine().to_value(node, str, ValueContext(blobs=blobs))
    return AttemptRequest(
        execution_id="ex",
        node_id=node,
        attempt=1,
        task=task.spec,
        inputs={"who": value},
        blob_url="/blobs",
        log_key=f"logs/ex/{node}/1.log",
        **kw,  # type: ignore[arg-type]
    )


def _log(blobs: BlobStore, result: AttemptResult) -> str:
    assert result.error is None, result.error
    return blobs.get_bytes(result.log_uri).decode() if result.log_uri else ""


def test_two_attempts_in_threads_at_once_each_keep_their_own_prints_and_records(
    blobs: LocalBlobStore, bare_root: logging.Logger
) -> None:
    runtime = WorkerRuntime()
    results: dict[str, AttemptResult] = {}

    def attempt(node: str) -> None:
        results[node] = runtime.run_attempt(_request(blobs, _talks, node), blobs, in_process=True)

    with runtime.session():
        first = runtime.run_attempt(_request(blobs, _says, "a0"), blobs, in_process=True)
        threads = [threading.Thread(target=attempt, args=(n,)) for n in ("a1", "a2")]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        last = runtime.run_attempt(_request(blobs, _says, "a3"), blobs, in_process=True)
    for node, result in (("a0", first), *results.items(), ("a3", last)):
        text = _log(blobs, result)
        assert f"OUT      print of {node}\n" in text, text
        assert f"WARNING  {'talk' if node in results else 'say'}: record of {node}\n" in text
        others = {"a0", "a1", "a2", "a3"} - {node}
        assert not any(f"of {other}" in text for other in others), text
    # the session's end took the record handler off
    assert "RecordHandler" not in [type(h).__name__ for h in bare_root.handlers]


def test_a_running_attempts_log_is_copied_while_it_runs(blobs: LocalBlobStore) -> None:
    _SEEN_LIVE.clear()
    runtime = WorkerRuntime()
    with runtime.session():
        result = runtime.run_attempt(
            _request(blobs, _waits_for_its_live_copy, "live"), blobs, in_process=True
        )
    assert _SEEN_LIVE == [True]
    assert "tick of live" in _log(blobs, result)
    assert not blobs.exists(blobs.uri(live_log_key("logs/ex/live/1.log")))  # removed at the end


def test_basic_config_in_a_task_module_imported_between_attempts_takes_effect(
    blobs: LocalBlobStore, bare_root: logging.Logger, tmp_path: Path
) -> None:
    # The record handler stays on the root logger from one attempt of a session to the
    # next; a task module imported for a later attempt must still find the root bare, or
    # its basicConfig(level=INFO) does nothing and its INFO records are never made.
    code = tmp_path / "code"
    code.mkdir()
    (code / "w1d_configures.py").write_text(
        "import logging\n"
        "import airfoil as af\n"
        "logging.basicConfig(level=logging.INFO, format='%(levelname)s:%(message)s')\n"
        "@af.task\n"
        "def noted(who: str) -> str:\n"
        "    logging.getLogger('mine').info('once only %s', who)\n"
        "    return who\n"
    )
    sys.path.insert(0, str(code))
    try:
        spec = importlib.import_module("w1d_configures").noted.spec
    finally:
        sys.path.remove(str(code))
    del sys.modules["w1d_configures"]  # imported anew by its attempt, as in a fresh worker
    _task._LIVE.pop(("w1d_configures", "noted"), None)
    bare_root.handlers = []
    bare_root.setLevel(logging.WARNING)
    runtime = WorkerRuntime()
    try:
        with runtime.session():
            runtime.run_attempt(_request(blobs, _says, "b0"), blobs, in_process=True)
            request = _request(blobs, _says, "b1", code_root=str(code))
            result = runtime.run_attempt(
                AttemptRequest(**{**_fields(request), "task": spec}), blobs, in_process=True
            )
    finally:
        sys.modules.pop("w1d_configures", None)
        if str(code) in sys.path:
            sys.path.remove(str(code))
    assert bare_root.level == logging.INFO
    text = _log(blobs, result)
    assert text.count("INFO     mine: once only b1\n") == 1, text


def test_a_task_that_replaces_sys_stdout_leaves_the_next_attempt_captured(
    blobs: LocalBlobStore,
) -> None:
    runtime = WorkerRuntime()
    stdout = sys.stdout
    try:
        with runtime.session():
            runtime.run_attempt(_request(blobs, _swaps_stdout, "c0"), blobs, in_process=True)
            result = runtime.run_attempt(_request(blobs, _says, "c1"), blobs, in_process=True)
    finally:
        sys.stdout = stdout
    assert "OUT      print of c1\n" in _log(blobs, result)


def _fields(request: AttemptRequest) -> dict[str, object]:
    return {f: getattr(request, f) for f in request.__struct_fields__}
