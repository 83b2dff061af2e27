"""A real OTLP/HTTP trace receiver for tests (issue 15): an ``http.server`` on 127.0.0.1
that decodes each ``ExportTraceServiceRequest`` and keeps its spans (the
``opentelemetry-proto`` messages) and the paths posted to."""

from __future__ import annotations

import gzip
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

__all__ = ["receiver"]


class _Receiver(BaseHTTPRequestHandler):
    spans: list[Any]
    paths: list[str]

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        if self.headers.get("Content-Encoding") == "gzip":
            body = gzip.decompress(body)
        req = ExportTraceServiceRequest()
        req.ParseFromString(body)
        self.paths.append(self.path)
        for rs in req.resource_spans:
            for ss in rs.scope_spans:
                self.spans.extend(ss.spans)
        self.send_response(200)
        self.send_header("Content-Type", "application/x-protobuf")
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def receiver() -> Iterator[tuple[str, list[Any], list[str]]]:
    spans: list[Any] = []
    paths: list[str] = []
    handler = type("H", (_Receiver,), {"spans": spans, "paths": paths})
    srv = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    t = threading.Thread(target=srv.serve_forever, daemon=True)
    t.start()
    try:
        yield f"http://127.0.0.1:{srv.server_address[1]}", spans, paths
    finally:
        srv.shutdown()
        srv.server_close()
