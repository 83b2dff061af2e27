"""The engine's fast paths keep their promises: the settings read once per environment still
follow every change of it, and an inline attempt's output capture (set up with less work per
attempt) still routes each thread's writes to the right log."""

from __future__ import annotations

import io
import sys
import threading
from pathlib import Path

import pytest

import airfoil as af
from airfoil import local
from airfoil.runtime._capture import capture_streams

pytestmark = pytest.mark.integration


@af.task
def double(x: int) -> int:
    return 2 * x


def test_runtime_follows_every_change_of_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = local.get_runtime()
    assert local.get_runtime() is first  # nothing changed: the same runtime, not read again
    monkeypatch.setenv("AIRFOIL_HOME", str(tmp_path / "other"))
    second = local.get_runtime()
    assert second is not first
    assert second.settings.home == str(tmp_path / "other")
    # A variable in another case counts too (pydantic-settings ignores the case).
    monkeypatch.setenv("airfoil_project", "elsewhere")
    third = local.get_runtime()
    assert third is not second and third.settings.project == "elsewhere"
    assert double(x=4) == 8
    assert third.meta.list_executions(limit=1)[0].project == "elsewhere"
    monkeypatch.delenv("airfoil_project")
    assert local.get_runtime() is second  # back to the earlier environment: its runtime


def test_an_unset_variable_is_seen(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AIRFOIL_DOMAIN", "staging")
    assert local.get_runtime().settings.domain == "staging"
    monkeypatch.delenv("AIRFOIL_DOMAIN")
    assert local.get_runtime().settings.domain == "development"


def test_capture_routes_threads_and_restores_the_streams() -> None:
    before = sys.stdout, sys.stderr
    log, other = io.StringIO(), io.StringIO()
    ready, release = threading.Event(), threading.Event()

    def bystander() -> None:  # started before the attempt: not the attempt's
        ready.set()
        release.wait(5)
        print("bystander")

    outside = threading.Thread(target=bystander)
    outside.start()
    ready.wait(5)
    old_stdout = sys.stdout
    sys.stdout = other  # the process's own stream while the attempt runs
    try:
        with capture_streams(log):
            print("attempt")
            helper = threading.Thread(target=lambda: print("helper"))
            helper.start()  # started by the attempt: its writes are the attempt's
            helper.join()
            release.set()
            outside.join()
        assert sys.stdout is other  # put back as it was
    finally:
        sys.stdout = old_stdout
    assert log.getvalue() == "attempt\nhelper\n"
    assert other.getvalue() == "bystander\n"
    assert (sys.stdout, sys.stderr) == before
