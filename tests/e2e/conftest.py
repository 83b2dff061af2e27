"""Run the ``airfoil`` CLI as a user types it: a subprocess, real exit codes; and the console's
headless Chromium (``browser``, ``page``) for the tests that drive it."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

AIRFOIL = [sys.executable, "-m", "airfoil.cli"]


class Result:
    def __init__(self, proc: subprocess.CompletedProcess[str]) -> None:
        self.code = proc.returncode
        self.out = proc.stdout
        self.err = proc.stderr

    def json(self) -> Any:
        return json.loads(self.out)


@pytest.fixture
def cli(tmp_path: Path, _airfoil_home: Path) -> Callable[..., Result]:
    def run(
        *args: str,
        timeout: float = 120,
        env: dict[str, str] | None = None,
        stdin: str | None = None,
    ) -> Result:
        full_env = dict(os.environ, AIRFOIL_HOME=str(_airfoil_home), COLUMNS="200")
        full_env.update(env or {})
        proc = subprocess.run(
            [*AIRFOIL, *args],
            capture_output=True,
            text=True,
            input=stdin,
            timeout=timeout,
            cwd=tmp_path,
            env=full_env,
        )
        return Result(proc)

    return run


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    """One headless Chromium for every console test of this process (an xdist worker, or a
    serial run): a launch costs seconds (about 2 s wall, 1 s of CPU on an idle 2-core machine),
    and one a module made it one of ~18 per run. Each test still gets a browser context of its
    own (``page``): no cookies, storage or cache pass from one test to the next."""
    api = pytest.importorskip("playwright.sync_api")
    exe = shutil.which("chromium") or shutil.which("chromium-browser")
    if exe is None:
        pytest.fail("Chromium is not installed: `make install` installs Debian's chromium")
    with api.sync_playwright() as p:
        b = p.chromium.launch(
            executable_path=exe,
            args=["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"],
        )
        try:
            yield b
        finally:
            b.close()


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    """A page in a fresh browser context of this test; fails the test if the page raised."""
    ctx = browser.new_context(viewport={"width": 1400, "height": 900})
    pg = ctx.new_page()
    pg.set_default_timeout(30_000)
    errors: list[str] = []
    pg.on("pageerror", lambda e: errors.append(str(e)))
    try:
        yield pg
    finally:
        ctx.close()
    assert not errors, f"the page raised: {errors}"
