"""Traces of a run on a server's own workers (``--remote``, issue 15): the server, started
with ``AIRFOIL_OTEL_ENDPOINT``, exports the span tree of the run to a real OTLP/HTTP
receiver on 127.0.0.1, and the API's attempt record names the same trace and span."""

from __future__ import annotations

import json
import textwrap
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

pytest.importorskip("opentelemetry.sdk")

from _otlp import receiver  # noqa: E402, F401
from _serve import Server  # noqa: E402

FLOW = textwrap.dedent(
    """
    import airfoil as af


    @af.task(retries=1)
    def flaky(x: int) -> int:
        if af.current_context().attempt == 1:
            raise ValueError("first try fails")
        return x


    @af.workflow
    def traced(x: int = 1) -> int:
        return flaky(x=x)
    """
)


def test_a_remote_run_is_traced_by_the_server(
    receiver: tuple[str, list[Any], list[str]],  # noqa: F811
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    url, spans, _ = receiver
    work = tmp_path / "work"
    work.mkdir()
    (work / "flow.py").write_text(FLOW)
    monkeypatch.setenv("AIRFOIL_OTEL_ENDPOINT", url)
    srv = Server(tmp_path / "home", work)
    try:
        ran = srv.cli("run", "--remote", "--server", srv.url, "--json", "flow.py", "traced")
        assert ran.returncode == 0, ran.stderr
        eid = json.loads(ran.stdout)["execution_id"]
        node = httpx.get(f"{srv.url}/api/v1/projects/default/executions/{eid}/nodes/n0").json()
        deadline = time.monotonic() + 20  # the batch processor exports every few seconds
        while time.monotonic() < deadline and not any(s.name == "execution" for s in spans):
            time.sleep(0.2)
    finally:
        srv.stop()
    mine = {
        s.span_id.hex(): s for s in spans if s.trace_id.hex() == node["attempt_list"][0]["trace_id"]
    }
    names = sorted(s.name for s in mine.values())
    assert names == ["attempt 1", "attempt 2", "execution", "node n0"]
    for att in node["attempt_list"]:
        span = mine[att["span_id"]]
        assert span.name == f"attempt {att['attempt']}"
        assert mine[span.parent_span_id.hex()].name == "node n0"
