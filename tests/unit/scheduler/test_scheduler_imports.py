"""Importing the scheduler does nothing and reaches no layer it must not."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

pytestmark = pytest.mark.unit

SRC = Path(__file__).resolve().parents[3] / "src"


def _run(code: str) -> None:
    result = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        capture_output=True,
        text=True,
        env={"PYTHONPATH": str(SRC)},
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr


def test_scheduler_imports_only_core_and_starts_nothing() -> None:
    _run(
        """
        import sys, threading
        import airfoil.scheduler
        others = sorted(
            m for m in sys.modules
            if m.startswith("airfoil.")
            and not m.startswith(("airfoil.core", "airfoil.scheduler"))
        )
        assert others == [], others
        assert "numpy" not in sys.modules
        assert threading.active_count() == 1
        from airfoil.scheduler import _registry
        assert _registry._table.cache_info().currsize == 0, "registry filled at import"
        """
    )


def test_simulator_and_cli_load_plotting_only_when_asked() -> None:
    _run(
        """
        import sys, threading
        import airfoil.scheduler.sim
        import airfoil.cli._sim
        assert "matplotlib" not in sys.modules
        assert "rich.progress" not in sys.modules
        assert threading.active_count() == 1
        """
    )
