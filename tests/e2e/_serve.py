"""Start the console's server over a user's flow, for the console tests."""

from __future__ import annotations

from collections.abc import Iterator

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


def serving(
    tmp_path_factory: pytest.TempPathFactory,
    name: str,
    flow: str,
    *,
    register: bool = False,
    runs: tuple[tuple[str, ...], ...] = (),
) -> Iterator[Server]:
    """:func:`serve_flow`, then ``flow.py`` registered (its workflows launchable from the
    console's forms) if ``register``, then each of ``runs`` (``airfoil`` commands run in the
    working folder, which must succeed); stopped when done: ``yield from`` it in a fixture."""
    srv = serve_flow(tmp_path_factory, name, flow)
    try:
        if register:
            reg = srv.cli("register", "flow.py", "--server", srv.url)
            assert reg.returncode == 0, reg.stderr
        for args in runs:
            ran = srv.cli(*args)
            assert ran.returncode == 0, ran.stderr + ran.stdout
        yield srv
    finally:
        srv.stop()
