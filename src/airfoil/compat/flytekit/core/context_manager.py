"""``flytekit.core.context_manager``: ``FlyteContextManager.current_context()``, for the calls
that take a context (``LaunchPlan.get_default_launch_plan(ctx, wf)``,
``TypeEngine.to_literal(ctx, ...)``) and for ``user_space_params`` (what
``flytekit.current_context()`` returns)."""

from __future__ import annotations

from typing import Any

from airfoil.compat.flytekit._context import FlyteContext as ExecutionParameters
from airfoil.compat.flytekit._context import current_context
from airfoil.compat.flytekit._structured import FileAccess

__all__ = ["ExecutionParameters", "FlyteContext", "FlyteContextManager"]


class FlyteContext:
    """flytekit's context object. Airfoil needs none: the calls that take one ignore it.
    ``user_space_params`` is the running task's context (``flytekit.current_context()``);
    ``execution_state`` is ``None`` (flytekit's value outside an execution); ``file_access``
    gives local directories (under the running task's working directory), for custom
    ``StructuredDatasetEncoder`` / ``Decoder`` handlers."""

    execution_state: Any = None

    @property
    def file_access(self) -> FileAccess:
        from airfoil.sdk._context import current_context as airfoil_context

        ctx = airfoil_context()
        return FileAccess(None if ctx.execution_id == "local" else ctx.working_directory)

    @property
    def user_space_params(self) -> ExecutionParameters:
        return current_context()


class FlyteContextManager:
    """``FlyteContextManager.current_context()``: a :class:`FlyteContext`."""

    @staticmethod
    def current_context() -> FlyteContext:
        return FlyteContext()
