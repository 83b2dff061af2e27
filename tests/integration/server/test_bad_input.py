"""No request answers 500: malformed payloads get a JSON error with a code. And JSON inputs
become the very values (same hash) the Python path makes."""

from __future__ import annotations

import dataclasses
import datetime as dt
import enum
import json
from typing import Any

import httpx
import pytest

pytestmark = pytest.mark.integration

MALFORMED: list[Any] = [
    b"not json",
    b"{",
    b"\x00\xff\xfe",
    b"[]",
    b"null",
    b'"text"',
    b"123",
    b'{"entity": 1}',
    b'{"entity": "flow.wf", "inputs": []}',
    b'{"entity": "flow.wf", "inputs": {"x": 1e400}}',
    b'{"entity": "flow.wf", "inputs": {"x": 99999999999999999999999999999}}',
    b'{"entity": "flow.wf", "inputs": {"x": {"$airfoil": {"hash": "x"}}}}',
    b'{"entity": "flow.wf", "name": "../../etc"}',
    b'{"entity": "flow.wf", "version": null, "labels": {"a": 1}}',
    b'{"package": "zz", "entities": []}',
    b'{"package": "' + b"a" * 64 + b'", "entities": [{"kind": "task", "name": "x", '
    b'"version": "1", "spec": {"nodes": 5}}]}',
    b'{"package": "' + b"a" * 64 + b'", "entities": [{"kind": "workflow", "name": "x", '
    b'"version": "1", "spec": {}}]}',
    b'{"name": "bad name with spaces"}',
    b'{"reason": ' + b"[" * 2000 + b"]" * 2000 + b"}",
    '{"entity": "\u2603", "inputs": {"\ud800": 1}}'.encode("utf-8", "surrogatepass"),
    # a JSON escape of a lone surrogate (valid JSON, not Unicode) where an int is expected:
    # answered 500 before 2026-12-06 (the error message's own JSON rendering of it failed)
    b'{"entity": "flow.wf", "inputs": {"x": "\\ud800"}}',
    b'{"entity": "flow.configure", "inputs": {"cfg": {"scale": "\\udc00"}}}',
]


@pytest.fixture
def project(client: Any, flow: Any) -> str:
    client.register([flow.wf, flow.configure])
    return str(client.project)


def test_malformed_payloads_never_500(server: Any, project: str) -> None:
    from airfoil.server._routes import ROUTE_ROLES

    writes = [(m, p) for (m, p) in ROUTE_ROLES if m in ("POST", "PUT")]
    values = {
        "project": project,
        "domain": "development",
        "execution_id": "nope",
        "sha256": "a" * 64,
        "name": "threshold",
        "scope": "shared-features",
        "member": project,
    }
    # One client for the ~240 requests: httpx.request builds a client (and its TLS context,
    # ~50 ms of CPU under load) for every call.
    with httpx.Client(timeout=30, headers={"Content-Type": "application/json"}) as http:
        for method, path in writes:
            url = server.url + path.format(**values)
            for body in MALFORMED:
                r = http.request(method, url, content=body)
                assert r.status_code < 500, (path, body[:60], r.status_code, r.text[:300])
                err = r.json()["error"] if r.status_code >= 400 else None
                if err is not None:
                    assert err["code"] and err["message"], r.text


def test_malformed_paths_and_queries_never_500(server: Any, project: str) -> None:
    base = server.url + f"/api/v1/projects/{project}"
    for url in (
        base + "/executions?limit=-1",
        base + "/executions?limit=abc",
        base + "/executions?offset=99999999999999999999999",
        base + "/executions?phase=exploded",
        base + "/executions?domain=qa",
        base + "/executions/%00/nodes/%ff/logs?attempt=0",
        base + "/executions/" + "x" * 5000,
        base + "/entities/%2e%2e/versions/%2e%2e",
        base + "/entities?kind=neither",
        server.url + "/api/v1/projects/bad%20name/executions",
        base + "/executions/nope/values/zz",
        base + "/executions/nope/watch",
        base + "/executions/nope/graph",
        base + "/executions/nope/nodes/n0/items",
        base + "/executions/nope/nodes/n0/items?limit=0",
        base + "/executions/nope/nodes/n0/items?offset=-1",
        base + "/executions?since=abc",
        base + "/executions?since=-5",
        base + "/executions?until=1e400",
        base + "/executions?q=" + "x" * 500,
    ):
        r = httpx.get(url, timeout=30)
        assert 400 <= r.status_code < 500, (url, r.status_code, r.text[:200])
        assert r.json()["error"]["code"], url


class Color(enum.Enum):
    RED = 1
    GREEN = 2


@dataclasses.dataclass
class Point:
    x: float
    y: float
    label: str | None
    color: Color


@pytest.mark.parametrize(
    ("py_value", "annotation", "json_value"),
    [
        (7, int, 7),
        (2.0, float, 2),
        (True, bool, True),
        ("héllo", str, "héllo"),
        (None, int | None, None),
        (3, int | str, 3),
        ("3", int | str, "3"),
        (b"\x00\x01", bytes, "AAE="),
        ([1, 2, 3], list[int], [1, 2, 3]),
        ({"a": [1.5]}, dict[str, list[float]], {"a": [1.5]}),
        ({1: "x", 2: "y"}, dict[int, str], {"2": "y", "1": "x"}),
        ((1, "a"), tuple[int, str], [1, "a"]),
        ({"b", "a"}, set[str], ["a", "b"]),
        (Color.GREEN, Color, "GREEN"),
        (dt.date(2024, 2, 29), dt.date, "2024-02-29"),
        (dt.datetime(2024, 1, 2, 3, 4, 5, tzinfo=dt.UTC), dt.datetime, "2024-01-02T03:04:05+00:00"),
        (dt.timedelta(minutes=90), dt.timedelta, 5400),
        (
            Point(1.0, 2.5, None, Color.RED),
            Point,
            {"x": 1, "y": 2.5, "label": None, "color": "RED"},
        ),
        (
            [Point(0.0, 0.0, "o", Color.GREEN)],
            list[Point],
            [{"x": 0, "y": 0, "label": "o", "color": "GREEN"}],
        ),
        (list(range(20_000)), list[int], list(range(20_000))),  # offloaded to a blob
    ],
)
def test_json_inputs_hash_like_python(
    tmp_path: Any, py_value: Any, annotation: Any, json_value: Any
) -> None:
    from airfoil.store.blob import open_blob_store
    from airfoil.types import ValueContext, default_type_engine
    from airfoil.types._from_json import from_jsonable

    engine = default_type_engine()
    ctx = ValueContext(blobs=open_blob_store(str(tmp_path)))
    expected = engine.to_value(py_value, annotation, ctx)
    got = from_jsonable(json_value, engine.to_spec(annotation), engine, ctx)
    assert got.hash == expected.hash
    assert got.format == expected.format
    # The same value; its stored bytes keep each side's own dict key order.
    if got.format == "json" and got.inline is not None and expected.inline is not None:
        assert json.loads(got.inline) == json.loads(expected.inline)
    else:
        assert got.inline == expected.inline


def test_json_inputs_refuse_files_and_frames() -> None:
    from airfoil.core.errors import TypeTransformError
    from airfoil.core.records import TypeSpec
    from airfoil.types._from_json import python_type_of

    with pytest.raises(TypeTransformError, match="cannot be given as JSON"):
        python_type_of(TypeSpec("dataframe", name="pandas"))


def test_a_workflow_with_an_unknown_node_kind_is_refused_at_registration(
    server: Any, client: Any, flow: Any, flow_dir: Any
) -> None:
    """A spec whose node has a kind no engine knows was registered (200) and its launch then
    answered 500 (an untyped ValueError deep in the launcher): it is refused where it comes
    in, naming the kind and where it is."""
    import types

    import msgspec

    from airfoil.core.errors import AirfoilError

    spec = flow.wf.spec
    bad_node = msgspec.structs.replace(spec.nodes[0], kind="bogus")
    bad = msgspec.structs.replace(spec, nodes=(bad_node, *spec.nodes[1:]), version="bogus1")
    entity = types.SimpleNamespace(spec=bad, module=flow.wf.module)
    with pytest.raises(AirfoilError) as info:
        client.register([entity], source_dir=str(flow_dir))
    text = str(info.value)
    assert "422" in text and "'bogus'" in text and "nodes[0].kind" in text, text
    with pytest.raises(AirfoilError) as launched:
        client.launch(f"{spec.name}", version="bogus1")
    assert "500" not in str(launched.value)
