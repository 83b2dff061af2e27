"""Webhook notifications against a real HTTP server on 127.0.0.1: Slack-compatible JSON, sent
after the execution ends, and a failing webhook never fails the execution."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

import airfoil as af
from airfoil.core.errors import ExecutionFailedError
from airfoil.sdk._launch_plan import LaunchPlan, Webhook

pytestmark = pytest.mark.integration


@af.task
def divide(a: int, b: int) -> int:
    return a // b


@af.workflow
def ratio(a: int, b: int) -> int:
    return divide(a=a, b=b)


class Hook:
    """A webhook receiver that answers 500 to its first ``fail_first`` posts."""

    def __init__(self, fail_first: int) -> None:
        self.fail_left = fail_first
        self.posts: list[tuple[str, dict[str, Any], int]] = []
        hook = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                status = 500 if hook.fail_left > 0 else 200
                hook.fail_left -= 1
                hook.posts.append((self.headers["Content-Type"], body, status))
                self.send_response(status)
                self.end_headers()
                self.wfile.write(b"ok" if status == 200 else b"boom")

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/services/T0/B0/secret"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def hook() -> Iterator[Hook]:
    h = Hook(fail_first=1)
    yield h
    h.close()


@pytest.fixture(autouse=True)
def _memory_store(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("AIRFOIL_DATABASE_URL", "memory://")


def test_a_500_is_retried_and_the_execution_succeeds(hook: Hook) -> None:
    plan = LaunchPlan(ratio, "hook_ok", default_inputs={"b": 2}, notifications=[Webhook(hook.url)])
    assert plan(a=9) == 4
    assert [(ct, status) for ct, _, status in hook.posts] == [
        ("application/json", 500),
        ("application/json", 200),
    ]
    text = hook.posts[1][1]["text"]
    assert hook.posts[0][1] == hook.posts[1][1] == {"text": text}
    assert "launch plan hook_ok" in text and "succeeded" in text


def test_failures_are_reported_with_their_error(hook: Hook) -> None:
    hook.fail_left = 0
    plan = LaunchPlan(
        ratio, "hook_fail", notifications=[Webhook(hook.url, phases=["failed", "aborted"])]
    )
    assert plan(a=1, b=1) == 1
    assert hook.posts == []  # succeeded is not among its phases
    with pytest.raises(ExecutionFailedError):
        plan(a=1, b=0)
    ((_, body, _),) = hook.posts
    assert "failed" in body["text"] and "ZeroDivisionError" in body["text"]


def test_an_unreachable_or_broken_webhook_never_fails_the_execution(
    caplog: pytest.LogCaptureFixture,
) -> None:
    broken = Hook(fail_first=10)
    dead_url = broken.url.replace("/services", "/x")
    try:
        plan = LaunchPlan(
            ratio,
            "hook_broken",
            notifications=[Webhook(broken.url, timeout_s=2), Webhook("http://127.0.0.1:9/h")],
        )
        assert plan(a=4, b=2) == 2
        assert len(broken.posts) == 2  # tried twice, 500 both times
    finally:
        broken.close()
    assert caplog.text.count("failed after 2 tries") == 2
    assert "secret" not in caplog.text  # webhook paths are secrets: never logged
    assert dead_url not in caplog.text


@af.task
def nap(seconds: float) -> float:
    import time

    time.sleep(seconds)
    return seconds


@af.workflow
def napping(seconds: float = 0.0) -> float:
    return nap(seconds=seconds)


def test_an_execution_far_from_its_history_is_notified_on_anomaly(hook: Hook) -> None:
    hook.fail_left = 0
    plan = LaunchPlan(
        napping, "hook_anomaly", notifications=[Webhook(hook.url, phases=["anomaly"])]
    )
    for _ in range(10):  # each has fewer than 10 runs before it: never an anomaly
        assert plan() == 0.0
    assert hook.posts == []  # "succeeded" is not among its phases
    assert plan(seconds=1.0) == 1.0
    ((_, body, _),) = hook.posts
    text = body["text"]
    assert "launch plan hook_anomaly" in text and "succeeded" in text
    assert f"1 far from their history: n0 {nap.name}: took 1.0 s, " in text
    assert "std above the mean" in text and "of 10 runs" in text


def test_anomaly_is_a_known_notification_phase() -> None:
    from airfoil.core.errors import DefinitionError

    with pytest.raises(DefinitionError, match="anomaly"):
        Webhook("http://127.0.0.1:9/h", phases=["anomalous"])
