"""The seam through which the SDK runs a task, workflow or launch plan called as a function.

Calling ``wf(x=1)`` outside a workflow runs it locally, through the embedded engine. The SDK
sits below the engine, so it cannot import it; instead it asks for the installed
:class:`LocalRunner`. The top-level ``airfoil`` package installs one (the embedded engine of
:mod:`airfoil.local`, imported only when a call is made) and an entry point or a test may
install its own. Installing stores a reference: nothing is opened or started.
"""

from __future__ import annotations

import threading
from typing import Protocol

from airfoil.core.errors import ConfigError

__all__ = ["LocalRunner", "install_local_runner", "local_runner"]


class LocalRunner(Protocol):
    """Runs entities called as functions outside any workflow; returns their outputs."""

    def call_entity(
        self, entity: object, args: tuple[object, ...], kwargs: dict[str, object]
    ) -> object:
        """Run a task or workflow with these arguments; its outputs as Python values.

        Raises:
            InvalidInputError: an unknown, missing or ill-typed input.
            ExecutionFailedError: the execution did not succeed.
        """
        ...

    def call_launch_plan(self, plan: object, inputs: dict[str, object]) -> object:
        """Run a launch plan with these inputs merged over its presets; its outputs.

        Raises:
            InvalidInputError: a fixed, unknown, missing or ill-typed input.
            ExecutionFailedError: the execution did not succeed.
        """
        ...


_lock = threading.Lock()
_runner: LocalRunner | None = None


def install_local_runner(runner: LocalRunner | None) -> LocalRunner | None:
    """Make ``runner`` the one entities called as functions run through; return the previous
    one (``None`` uninstalls, so a test can put the old one back)."""
    global _runner
    with _lock:
        previous, _runner = _runner, runner
    return previous


def local_runner() -> LocalRunner:
    """The installed runner.

    Raises:
        ConfigError: none is installed (``airfoil.sdk`` was used without the ``airfoil``
            package's default, which importing ``airfoil`` installs).
    """
    runner = _runner
    if runner is None:
        raise ConfigError(
            "no local runner is installed to run a task or workflow called as a function: "
            "import airfoil (which installs the embedded engine) or call "
            "airfoil.core.local_runner.install_local_runner(...)"
        )
    return runner
