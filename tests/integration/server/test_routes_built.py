"""A fresh server's first API request finds its routes built: FastAPI builds an included
router's routes (their parameters' validators) on the first request that reaches it, ~0.2-0.4
s of CPU, unless the app built them while it started."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest
from _srv import start_server
from fastapi import routing

pytestmark = pytest.mark.integration


def test_the_first_api_request_builds_no_route(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    built: list[Any] = []
    build = routing._IncludedRouter._build_effective_context

    def counted(self: Any, route: Any) -> Any:
        built.append(route)
        return build(self, route)

    monkeypatch.setattr(routing._IncludedRouter, "_build_effective_context", counted)
    running = start_server(tmp_path, None, run_engine=False)
    try:
        built.clear()  # while it started
        r = httpx.get(f"{running.url}/api/v1/projects/first/tasks")
        assert r.status_code == 200, r.text
        assert built == []
    finally:
        running.stop()
