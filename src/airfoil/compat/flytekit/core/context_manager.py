"""``flytekit.core.context_manager``: ``FlyteContextManager.current_context()``, for the calls
that take a context (``LaunchPlan.get_default_launch_plan(ctx, wf)``,
``TypeEngine.to_literal(ctx, ...)``) and for ``user_space_params`` (what
``flytekit.current_context()`` returns)."""

from __future__ import annotations

from typing import Any

from airfoil.compat.flytekit._context import FlyteContext as ExecutionParameters
from airfoil.compat.flytekit._context import current_context
from airfoil.compat.flytekit._structured import FileAccess

__all__ = [
    "CompilationState",
    "ExecutionParameters",
    "FlyteContext",
    "FlyteContextManager",
    "NodeRef",
]


class FlyteContext:
    """flytekit's context object. Airfoil needs none: the calls that take one ignore it.
    ``user_space_params`` is the running task's context (``flytekit.current_context()``);
    ``execution_state`` is ``None`` (flytekit's value outside an execution); ``file_access``
    gives local directories (under the running task's working directory), for custom
    ``StructuredDatasetEncoder`` / ``Decoder`` handlers."""

    execution_state: Any = None

    @property
    def compilation_state(self) -> CompilationState | None:
        """While a workflow body runs (is compiled): the nodes it has made so far, in order
        (``ctx.compilation_state.nodes[1] >> ...``, flytekit's setup/teardown decorator
        idiom); ``None`` elsewhere."""
        from airfoil.sdk._compile import active

        building = active()
        if building is None:
            return None
        return CompilationState([NodeRef(n.id) for n in building.nodes])

    @property
    def file_access(self) -> FileAccess:
        from airfoil.sdk._context import current_context as airfoil_context

        ctx = airfoil_context()
        return FileAccess(None if ctx.execution_id == "local" else ctx.working_directory)

    @property
    def user_space_params(self) -> ExecutionParameters:
        return current_context()


class NodeRef:
    """A node of the workflow being built, for ``a >> b`` orderings (``b`` a node, a
    ``create_node`` result or a call's outputs)."""

    def __init__(self, node_id: str) -> None:
        self.node_id = node_id

    def __rshift__(self, other: Any) -> Any:
        from airfoil.sdk._compile import add_order
        from airfoil.sdk._imperative import Node

        add_order(self.node_id, other._result if isinstance(other, Node) else other)
        return other

    def runs_before(self, other: Any) -> None:
        self >> other

    def __repr__(self) -> str:
        return f"Node({self.node_id})"


class CompilationState:
    """flytekit's compilation state, as far as a workflow decorator reads it: ``nodes``."""

    def __init__(self, nodes: list[NodeRef]) -> None:
        self.nodes = nodes


class FlyteContextManager:
    """``FlyteContextManager.current_context()``: a :class:`FlyteContext`."""

    @staticmethod
    def current_context() -> FlyteContext:
        return FlyteContext()
