"""OpenTelemetry traces of real runs (issue 15), exported over OTLP/HTTP to a real receiver
the test starts on 127.0.0.1 (http.server decoding ``ExportTraceServiceRequest``): the span
tree execution -> node -> attempt, retries as sibling attempts, a child call under its
caller's attempt; the trace id reaches the worker (context, log) and the API's attempt
record. With no endpoint nothing
of OpenTelemetry is imported."""

from __future__ import annotations

import importlib
import subprocess
import sys
import textwrap
import uuid
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from airfoil.core.errors import ConfigError
from airfoil.core.trace_ids import traceparent
from airfoil.local import LocalRuntime, convert_inputs, spec_of
from airfoil.server._convert import attempt_out
from airfoil.settings import AirfoilSettings

pytestmark = pytest.mark.integration

pytest.importorskip("opentelemetry.sdk")
from _otlp import receiver  # noqa: E402, F401

TASKS = textwrap.dedent(
    """
    import airfoil as af


    @af.task
    def child(x: int) -> int:
        return x + 1


    @af.task(retries=1)
    def flaky(x: int) -> int:
        ctx = af.current_context()
        print("traceparent", ctx.context.get("traceparent"))
        if ctx.attempt == 1:
            raise ValueError("first try fails")
        return child(x=x) * 2


    @af.workflow
    def traced(x: int = 1) -> int:
        return flaky(x=child(x=x))
    """
)


def _user_module(tmp_path: Path, source: str, prefix: str) -> Iterator[tuple[ModuleType, Path]]:
    """``source`` imported from its own folder (returned too), as a user's module."""
    code = tmp_path / "code"
    code.mkdir()
    name = f"{prefix}_{uuid.uuid4().hex[:8]}"
    (code / f"{name}.py").write_text(source)
    sys.path.insert(0, str(code))
    try:
        yield importlib.import_module(name), code
    finally:
        sys.path.remove(str(code))
        sys.modules.pop(name, None)


@pytest.fixture
def tasks(tmp_path: Path) -> Iterator[tuple[ModuleType, Path]]:
    yield from _user_module(tmp_path, TASKS, "traced")


def _attr(span: Any, key: str) -> Any:
    for kv in span.attributes:
        if kv.key == key:
            v = kv.value
            return v.int_value if v.HasField("int_value") else v.string_value
    return None


@pytest.mark.parametrize("executor", ["inline", "process"])
def test_the_span_tree_of_a_run_reaches_a_real_receiver(
    executor: str,
    receiver: tuple[str, list[Any], list[str]],  # noqa: F811
    tasks: tuple[ModuleType, Path],
    tmp_path: Path,
) -> None:
    url, spans, paths = receiver
    module, code = tasks
    settings = AirfoilSettings(
        home=str(tmp_path / "home"),
        executor=executor,  # type: ignore[arg-type]
        otel_endpoint=url,
        max_parallel=2,
    )
    rt = LocalRuntime(settings)
    try:
        engine = rt.engine()
        values = convert_inputs(module.traced, {"x": 1}, rt)
        record = engine.launch(spec_of(module.traced), values, code_root=str(code))
        done = engine.drive(record.id)
        assert done.phase == "succeeded"
        eid = done.id
    finally:
        rt.close()  # exports every span
    assert paths and set(paths) == {"/v1/traces"}
    by_id = {s.span_id: s for s in spans}
    (root,) = [s for s in spans if s.name == "execution"]
    assert _attr(root, "airfoil.execution_id") == eid and not root.parent_span_id
    assert {s.trace_id for s in spans} == {root.trace_id}  # one trace

    def kids(parent: Any) -> list[Any]:
        return sorted(
            (s for s in spans if s.parent_span_id == parent.span_id), key=lambda s: s.name
        )

    assert [s.name for s in kids(root)] == ["node n0", "node n1"]
    n0, n1 = kids(root)
    assert [s.name for s in kids(n0)] == ["attempt 1"]
    a1, a2 = kids(n1)  # the retry: two attempts of one node
    assert (a1.name, a2.name) == ("attempt 1", "attempt 2")
    assert a1.status.code == 2 and "first try fails" in a1.status.message  # ERROR
    assert a2.status.code != 2
    # the child call of attempt 2 is a node under that attempt, with its own attempt
    (call,) = kids(a2)
    assert call.name.startswith("node n1.call1-")
    assert [s.name for s in kids(call)] == ["attempt 1"]
    for s in spans:  # every span's parent was exported, and ends after it starts
        assert not s.parent_span_id or s.parent_span_id in by_id
        assert s.end_time_unix_nano >= s.start_time_unix_nano
    assert len(spans) == 1 + 3 + 4

    # the worker was given the attempt's span as its traceparent, and logged the trace id
    rt = LocalRuntime(AirfoilSettings(home=str(tmp_path / "home"), executor="inline"))
    try:
        att = next(a for a in rt.meta.get_attempts(eid, "n1") if a.attempt == 2)
        text = rt.blobs.get_bytes(att.log_uri).decode()
    finally:
        rt.close()
    trace_hex = root.trace_id.hex()
    assert f"airfoil: trace_id={trace_hex}" in text
    assert f"traceparent 00-{trace_hex}-{a2.span_id.hex()}-01" in text
    assert traceparent(eid, "n1", 2) == f"00-{trace_hex}-{a2.span_id.hex()}-01"
    # the API's attempt record names the same trace and span
    out = attempt_out(att)
    assert (out.trace_id, out.span_id) == (trace_hex, a2.span_id.hex())


def test_nothing_of_opentelemetry_is_imported_without_an_endpoint(tmp_path: Path) -> None:
    code = textwrap.dedent(
        f"""
        import os, sys
        os.environ.pop("OTEL_EXPORTER_OTLP_ENDPOINT", None)
        import airfoil as af
        from airfoil.local import LocalRuntime
        from airfoil.settings import AirfoilSettings

        @af.task
        def t(x: int) -> int:
            return x

        rt = LocalRuntime(AirfoilSettings(home={str(tmp_path)!r}))
        assert rt._tracing is None
        rt.close()
        bad = [m for m in sys.modules if m.startswith("opentelemetry")]
        assert not bad, bad
        """
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)


def test_a_bad_endpoint_is_refused_with_the_fix(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="is not an http"):
        LocalRuntime(AirfoilSettings(home=str(tmp_path), otel_endpoint="127.0.0.1:4318"))


def test_a_collector_that_is_down_never_fails_a_run_nor_holds_its_exit(
    tasks: tuple[ModuleType, Path], tmp_path: Path
) -> None:
    import socket
    import time

    module, code = tasks
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    rt = LocalRuntime(
        AirfoilSettings(home=str(tmp_path / "home"), otel_endpoint=f"http://127.0.0.1:{port}")
    )
    try:
        engine = rt.engine()
        values = convert_inputs(module.child, {"x": 1}, rt)
        record = engine.launch(spec_of(module.child), values, code_root=str(code))
        assert engine.drive(record.id).phase == "succeeded"
    finally:
        t0 = time.monotonic()
        rt.close()
        closed_in = time.monotonic() - t0
    assert closed_in < 4.0  # bounded by EXPORT_TIMEOUT_S (2 s), not the SDK's 10 s retries


MAPPED = textwrap.dedent(
    """
    import airfoil as af


    @af.task(retries=1)
    def item(i: int) -> int:
        ctx = af.current_context()
        print("traceparent", ctx.context.get("traceparent"))
        if i in (7, 42, 123):
            raise ValueError(f"item {i} fails")
        if i == 3 and ctx.attempt == 1:
            raise ValueError("item 3 fails once")
        return i


    @af.workflow
    def fan(xs: list[int]) -> list[int | None]:
        return af.map_task(item, min_success_ratio=0.9)(i=xs)


    @af.workflow
    def strict(xs: list[int]) -> list[int]:
        return af.map_task(item)(i=xs)
    """
)


@pytest.fixture
def mapped_flow(tmp_path: Path) -> Iterator[tuple[ModuleType, Path]]:
    yield from _user_module(tmp_path, MAPPED, "mapped")


def test_a_maps_items_are_sampled_spans_under_one_map_span(
    receiver: tuple[str, list[Any], list[str]],  # noqa: F811
    mapped_flow: tuple[ModuleType, Path],
    tmp_path: Path,
) -> None:
    url, spans, _ = receiver
    module, code = mapped_flow
    settings = AirfoilSettings(
        home=str(tmp_path / "home"),
        executor="inline",
        otel_endpoint=url,
        otel_map_first=5,
        otel_map_every=50,
        otel_map_failures=2,
    )
    rt = LocalRuntime(settings)
    try:
        engine = rt.engine()
        values = convert_inputs(module.fan, {"xs": list(range(250))}, rt)
        record = engine.launch(spec_of(module.fan), values, code_root=str(code))
        done = engine.drive(record.id)
        assert done.phase == "succeeded"
        eid = done.id
        log_of = {
            (a.node_id, a.attempt): rt.blobs.get_bytes(a.log_uri).decode()
            for a in rt.meta.get_attempts(eid)
            if a.node_id in ("n0[1]", "n0[8]", "n0[123]")
        }
    finally:
        rt.close()
    (root,) = [s for s in spans if s.name == "execution"]
    (mapped,) = [s for s in spans if s.name == "map n0"]
    assert mapped.parent_span_id == root.span_id
    assert _attr(mapped, "airfoil.map.items") == 250
    assert _attr(mapped, "airfoil.map.attempts_failed") == 7  # 7, 42, 123 twice; 3 once
    assert mapped.status.code != 2  # within its min_success_ratio: the map succeeded
    items = {s.name for s in spans if s.parent_span_id == mapped.span_id}
    # the first 5, every 50th, then the first 2 items that failed (inline: in order)
    sampled = {0, 1, 2, 3, 4, 50, 100, 150, 200} | {7, 42}
    assert items == {f"node n0[{i}]" for i in sampled}
    assert _attr(mapped, "airfoil.map.items_traced") == len(sampled)
    by_name = {s.name: s for s in spans if s.parent_span_id == mapped.span_id}

    def attempts(node: Any) -> list[Any]:
        return sorted((s for s in spans if s.parent_span_id == node.span_id), key=lambda s: s.name)

    # a failed item traced when it failed, and its retry too (both failed)
    first, second = attempts(by_name["node n0[7]"])
    assert (first.name, second.name) == ("attempt 1", "attempt 2")
    assert first.status.code == 2 and "item 7 fails" in first.status.message
    assert first.start_time_unix_nano < first.end_time_unix_nano
    # a sampled item retried: both attempts under its node, the first failed
    a1, a2 = attempts(by_name["node n0[3]"])
    assert a1.status.code == 2 and a2.status.code != 2
    assert [s.name for s in attempts(by_name["node n0[50]"])] == ["attempt 1"]
    # bounded: 1 execution + 1 map + 11 items + 14 attempts (11 + the retries of 3, 7, 42)
    assert len(spans) == 1 + 1 + len(sampled) + len(sampled) + 3
    assert mapped.end_time_unix_nano >= max(
        s.end_time_unix_nano for s in spans if s.parent_span_id == mapped.span_id
    )
    # every item's worker had its derived traceparent; outside the sample, not sampled (-00)
    trace_hex = root.trace_id.hex()
    assert f"traceparent {traceparent(eid, 'n0[1]', 1)}" in log_of[("n0[1]", 1)]
    assert f"traceparent {traceparent(eid, 'n0[8]', 1)[:-2]}00" in log_of[("n0[8]", 1)]
    # the third failure is past the bound: no span, the worker still had its ids
    assert f"traceparent 00-{trace_hex}-" in log_of[("n0[123]", 1)]
    assert "node n0[123]" not in {s.name for s in spans}


def test_a_failed_maps_span_has_the_error_status(
    receiver: tuple[str, list[Any], list[str]],  # noqa: F811
    mapped_flow: tuple[ModuleType, Path],
    tmp_path: Path,
) -> None:
    """A map whose item fails (every try) fails, and so does its span (main ended it OK:
    only the failed item's spans had the error status)."""
    url, spans, _ = receiver
    module, code = mapped_flow
    settings = AirfoilSettings(home=str(tmp_path / "home"), executor="inline", otel_endpoint=url)
    rt = LocalRuntime(settings)
    try:
        engine = rt.engine()
        values = convert_inputs(module.strict, {"xs": [1, 2, 7, 4]}, rt)
        record = engine.launch(spec_of(module.strict), values, code_root=str(code))
        assert engine.drive(record.id).phase == "failed"
    finally:
        rt.close()
    (root,) = [s for s in spans if s.name == "execution"]
    (mapped,) = [s for s in spans if s.name == "map n0"]
    assert root.status.code == 2
    assert mapped.status.code == 2, mapped.status
    assert "item 7 fails" in mapped.status.message, mapped.status.message
    (item,) = [s for s in spans if s.name == "node n0[2]"]
    assert item.status.code == 2


def test_map_sampling_refuses_negative_counts() -> None:
    from airfoil.executors.tracing import MapSampling

    with pytest.raises(ConfigError, match="AIRFOIL_OTEL_MAP_FIRST"):
        MapSampling(first=-1)
    assert [i for i in range(300) if MapSampling(2, 100, 0).keeps(i)] == [0, 1, 100, 200]
    assert [i for i in range(5) if MapSampling(0, 0, 0).keeps(i)] == []
