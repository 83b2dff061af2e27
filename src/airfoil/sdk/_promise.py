"""Promises: the future outputs of nodes while a workflow is being built.

A promise is a placeholder, not a value: using it as one (``if p:``, ``len(p)``, ``p + 1``,
``for x in p``) raises :class:`~airfoil.core.errors.PromiseMisuseError` at definition time,
naming the workflow, the line and what to do instead.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, NoReturn

from airfoil.core.errors import PromiseMisuseError, UnknownOutputError
from airfoil.core.records import Binding, TypeSpec

__all__ = ["NodeOutputs", "Promise"]


def _misuse(promise: Promise, what: str) -> NoReturn:
    from airfoil.sdk._compile import current_location, current_workflow_name

    raise PromiseMisuseError(
        f"{what} on {promise!r}: while a workflow is being built, task outputs are promises of "
        "future values, not values. Move the logic into a task (or a @dynamic workflow), or "
        "use af.conditional for branches",
        workflow=current_workflow_name(),
        location=current_location(),
    )


class Promise:
    """The future value of a workflow input or of one output of a node."""

    __slots__ = ("binding", "py_type", "spec")

    def __init__(self, binding: Binding, spec: TypeSpec, py_type: Any) -> None:
        self.binding = binding
        self.spec = spec
        self.py_type = py_type

    @property
    def node_id(self) -> str:
        return self.binding.node

    def __repr__(self) -> str:
        b = self.binding
        if b.kind == "input":
            return f"Promise(input {b.name!r}: {self.spec})"
        return f"Promise({b.node}.{b.name}: {self.spec})"

    def __bool__(self) -> bool:
        _misuse(self, "truth test (`if`, `and`, `or`, `not`)")

    def __len__(self) -> int:
        _misuse(self, "len()")

    def __iter__(self) -> Iterator[Any]:
        _misuse(self, "iteration")

    def __contains__(self, item: Any) -> bool:
        _misuse(self, "`in`")

    def __getitem__(self, item: Any) -> Any:
        _misuse(self, "indexing")

    def __int__(self) -> int:
        _misuse(self, "int()")

    def __float__(self) -> float:
        _misuse(self, "float()")

    def __index__(self) -> int:
        _misuse(self, "use as an index")

    def __rshift__(self, other: Any) -> Any:
        from airfoil.sdk._compile import add_order

        return add_order(self.binding.node, other)

    def _arith(self, *_: Any) -> Any:
        _misuse(self, "arithmetic")

    __add__ = __radd__ = __sub__ = __rsub__ = __mul__ = __rmul__ = _arith
    __truediv__ = __rtruediv__ = __floordiv__ = __mod__ = __pow__ = _arith
    __neg__ = __pos__ = __abs__ = _arith
    __lt__ = __le__ = __gt__ = __ge__ = _arith
    __hash__ = object.__hash__


class NodeOutputs:
    """The outputs of a node with several (``NamedTuple``) or no outputs.

    Unpack it (``a, b = t()``), index it, or read outputs by name (``t().accuracy``).
    """

    __slots__ = ("_node", "_promises", "_task")

    def __init__(self, node: str, task: str, promises: dict[str, Promise]) -> None:
        self._node = node
        self._task = task
        self._promises = promises

    @property
    def node_id(self) -> str:
        return self._node

    def __getattr__(self, name: str) -> Promise:
        if name.startswith("_"):
            raise AttributeError(name)
        try:
            return self._promises[name]
        except KeyError:
            from airfoil.sdk._compile import current_location, current_workflow_name

            known = ", ".join(self._promises) or "none"
            raise UnknownOutputError(
                f"{self._task} has no output {name!r} (its outputs: {known})",
                workflow=current_workflow_name(),
                location=current_location(),
            ) from None

    def __iter__(self) -> Iterator[Promise]:
        return iter(self._promises.values())

    def __len__(self) -> int:
        return len(self._promises)

    def __getitem__(self, index: int) -> Promise:
        return list(self._promises.values())[index]

    def __bool__(self) -> bool:
        raise PromiseMisuseError(f"truth test on the outputs of {self._task}")

    def __rshift__(self, other: Any) -> Any:
        from airfoil.sdk._compile import add_order

        return add_order(self._node, other)

    def __repr__(self) -> str:
        return f"NodeOutputs({self._node}: {', '.join(self._promises)})"
