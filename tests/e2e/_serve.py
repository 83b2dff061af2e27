"""Start the console's server over a user's flow, for the console tests."""

from __future__ import annotations

import pytest
from test_console import STATIC, Server


def serve_flow(tmp_path_factory: pytest.TempPathFactory, name: str, flow: str) -> Server:
    """A local server (``airfoil server start``) over a fresh home, its working folder holding
    ``flow.py``; fails the test if the console was not built."""
    if not STATIC.exists():
        pytest.fail("the console is not built: run `make install` (it runs npm in ui/)")
    work = tmp_path_factory.mktemp(name)
    (work / "flow.py").write_text(flow)
    return Server(tmp_path_factory.mktemp("home"), work)
