"""Definition-time type compatibility: may a value of spec ``src`` be bound where ``dst`` is
expected?

Pure functions of :class:`~airfoil.core.records.TypeSpec`, so the SDK can check a workflow's
wiring (and a server can check a launch plan) without the Python types.

The rules follow what the value converters accept at run time: widening ``int`` -> ``float``;
anything into a union that has a compatible member (so ``T`` -> ``Optional[T]``); a union
only if every member fits; containers element-wise (``list[int]`` -> ``list[float]``);
named kinds (dataclass, pydantic, enum, pickle) by qualified name; dataframes within one
flavour, or to and from a dataframe of no stated flavour (a structured dataset, read as any
flavour: every flavour is stored as Parquet). ``Any`` accepts everything; a value typed
``Any`` may go only where ``Any`` or a pickled type is expected (its content is unknown until
run time).
"""

from __future__ import annotations

from airfoil.core.records import TypeSpec

__all__ = ["is_assignable"]

_NAMED = frozenset({"dataclass", "pydantic", "enum", "pickle", "dataframe"})


def is_assignable(src: TypeSpec, dst: TypeSpec) -> bool:
    """Whether a value of type ``src`` may be bound to an input of type ``dst``."""
    if src == dst or dst.kind == "any":
        return True
    sk, dk = src.kind, dst.kind
    if sk == "union":
        return all(is_assignable(member, dst) for member in src.args)
    if dk == "union":
        return any(is_assignable(src, member) for member in dst.args)
    if dk == "pickle":
        return sk == "any" or (sk == "pickle" and src.name == dst.name)
    if sk == "int" and dk == "float":
        return True
    if sk != dk:
        return False
    if sk == "dataframe" and (not src.name or not dst.name):
        return True
    if sk in _NAMED:
        return src.name == dst.name
    if sk == "ndarray":
        return not dst.name or src.name == dst.name
    if sk in ("list", "set"):
        return _elementwise(src.args, dst.args)
    if sk == "dict":
        return _elementwise(src.args, dst.args)
    if sk == "tuple":
        return _tuples(src, dst)
    return src.name == dst.name and not src.args and not dst.args


def _elementwise(src: tuple[TypeSpec, ...], dst: tuple[TypeSpec, ...]) -> bool:
    return len(src) == len(dst) and all(is_assignable(s, d) for s, d in zip(src, dst, strict=True))


def _tuples(src: TypeSpec, dst: TypeSpec) -> bool:
    if dst.variadic:
        elem = dst.args[0] if dst.args else TypeSpec("any")
        return all(is_assignable(s, elem) for s in src.args)
    if src.variadic:  # an unknown number of items cannot fill a fixed tuple
        return False
    return _elementwise(src.args, dst.args)
