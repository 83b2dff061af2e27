"""Shared fixtures: every test gets its own AIRFOIL_HOME so nothing touches ~/.airfoil.

In CI (``CI`` set to true, as every CI service does), a test skipped because what it needs
is missing (Playwright, Chromium, PostgreSQL, Ray) is reported as a failure: a green CI run
must have run the console, PostgreSQL and Ray tiers, not skipped them.
"""

from __future__ import annotations

import os
import signal
from collections.abc import Iterator
from pathlib import Path

import _tier_times
import hypothesis
import pytest

# The shipped conformance suites assert in plain `assert`s: rewrite them wherever they are first
# imported (a server test imports a draft helper from one before the store tests' conftest runs).
pytest.register_assert_rewrite("airfoil.testing")

# Hypothesis's timing checks (a 200 ms deadline per example, "input generation is slow") time
# the host, not the code: on a loaded CI host one draw stalled 1.3 s and failed a unit test.
# Timings belong in benchmarks/; the examples and what they assert are unchanged.
hypothesis.settings.register_profile(
    "airfoil", deadline=None, suppress_health_check=[hypothesis.HealthCheck.too_slow]
)
hypothesis.settings.load_profile("airfoil")


@pytest.fixture(autouse=True)
def _airfoil_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    home = tmp_path / "airfoil-home"
    monkeypatch.setenv("AIRFOIL_HOME", str(home))
    for var in ("AIRFOIL_DATABASE_URL", "AIRFOIL_BLOB_URL", "AIRFOIL_EXECUTOR", "COLUMNS", "LINES"):
        monkeypatch.delenv(var, raising=False)
    yield home


@pytest.fixture
def fsyncs(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The paths this process fsyncs from now on, in order (``os.fsync`` is the kernel's,
    not ours to fake: it is still called). Needs ``/proc`` to name the fds."""
    synced: list[str] = []
    real = os.fsync

    def fsync(fd: int) -> None:
        synced.append(os.readlink(f"/proc/self/fd/{fd}"))
        real(fd)

    monkeypatch.setattr(os, "fsync", fsync)
    return synced


@pytest.fixture
def repo_root() -> Path:
    return Path(__file__).resolve().parent.parent


#: The tier of a test with no tier marker, by the folder of tests/ it lives in: a file under
#: tests/e2e or tests/integration is never counted in the unit tier (`-m unit`) by omission.
_FOLDER_TIERS = {"e2e": "e2e", "integration": "integration"}


def _default_tier(path: Path) -> str:
    parts = path.resolve().relative_to(Path(__file__).resolve().parent).parts
    return _FOLDER_TIERS.get(parts[0], "unit") if len(parts) > 1 else "unit"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    tiers = {"unit", "integration", "e2e"}
    for item in items:
        if not tiers & {m.name for m in item.iter_markers()}:
            item.add_marker(getattr(pytest.mark, _default_tier(item.path)))


# Skip reasons that mean "the environment lacks a tier's dependency", not "not applicable".
_MISSING_TIER = ("playwright", "chromium", "postgresql", "airfoil_skip_pg", "airfoil[ray]")


def _in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() in ("1", "true", "yes")


def _missing_tier(report: pytest.CollectReport | pytest.TestReport) -> str | None:
    if not report.skipped:
        return None
    reason = str(report.longrepr[-1] if isinstance(report.longrepr, tuple) else report.longrepr)
    return reason if any(word in reason.lower() for word in _MISSING_TIER) else None


def _fail_in_ci(report: pytest.CollectReport | pytest.TestReport) -> None:
    reason = _missing_tier(report)
    if reason is not None and _in_ci():
        report.outcome = "failed"
        report.longrepr = f"CI=true and a test tier's dependency is missing: {reason}"


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    outcome = yield
    result = outcome.get_result()
    _fail_in_ci(result)
    _tier_times.note(item, result)


def pytest_configure(config: pytest.Config) -> None:
    # `make test` runs the Ray tier in the background, where a shell starts it with SIGINT
    # ignored: it asks (AIRFOIL_TEST_INTERRUPTIBLE=1) for Ctrl-C to interrupt it as it does the
    # run in the foreground, so that it stops its Ray and nodes in its teardown, not runs on.
    interruptible = os.environ.pop("AIRFOIL_TEST_INTERRUPTIBLE", "") == "1"
    if interruptible and signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
        signal.signal(signal.SIGINT, signal.default_int_handler)
    # What each tier costs (the Ray tier's bound: issue 13), once per session, xdist's workers
    # summed by the controller: see _tier_times.
    config.pluginmanager.register(_tier_times.Recorder(config), "airfoil-tier-times")


@pytest.hookimpl(hookwrapper=True)
def pytest_make_collect_report(collector: pytest.Collector) -> Iterator[None]:
    outcome = yield
    _fail_in_ci(outcome.get_result())


os.environ.setdefault("AIRFOIL_TEST", "1")

# A test runs as a piped CI run does: no COLUMNS or LINES, so the CLI prints its tables whole
# (``airfoil.cli._common``), in this process and in the ``airfoil`` subprocesses tests start,
# unless a test sets a width itself. pytest-xdist's workers start with COLUMNS=80 and LINES=24
# in their environment (a serial run has neither), and there the tables were cut to 80 columns
# and the tests that read them failed. Popped here, before any test module imports the CLI.
for _var in ("COLUMNS", "LINES"):
    os.environ.pop(_var, None)
