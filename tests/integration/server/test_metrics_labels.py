"""Request metrics keep a bounded set of labels whatever a client sends.

Served by uvicorn's h11 protocol (what ``pip install 'airfoil[server]'`` gets: httptools
is not a dependency), a request may carry any token as its method. On main the latency
histogram took it as its ``method`` label, so each made-up method (``X0``, ``X1``...) was a
new series of 15 lines in ``/metrics``, kept for the process's life: any client, without a
key, could grow the server's memory and every scrape without bound."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from _in_thread import serve_in_thread

from airfoil.server import ServerConfig, create_app

pytestmark = pytest.mark.integration


def test_made_up_methods_share_one_label(tmp_path: Path) -> None:
    app = create_app(ServerConfig(home=str(tmp_path / "home"), run_engine=False))
    server = serve_in_thread(app, http="h11", log_level="warning")
    try:
        url = server.url + "/api/v1/projects/p/executions"
        with httpx.Client(timeout=30) as c:
            answers = {c.request(f"X{i}", url).status_code for i in range(20)}
            assert c.get(url).status_code == 200
            text = c.get(server.url + "/metrics").text
    finally:
        server.stop()
    assert answers == {405}
    counts = [
        line
        for line in text.splitlines()
        if line.startswith("airfoil_api_request_duration_seconds_count")
    ]
    methods = sorted({line.split('method="')[1].split('"')[0] for line in counts})
    assert methods == ["GET", "other"], methods  # main: GET, X0 ... X19
    assert any('method="other"' in line and line.endswith(" 20.0") for line in counts), counts
