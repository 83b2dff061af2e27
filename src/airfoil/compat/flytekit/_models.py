"""The few flytekit model classes a custom ``TypeTransformer`` builds: literals and types.

A transformer written for flytekit returns a ``Literal`` from ``to_literal`` and reads one in
``to_python_value``; here a literal is plain data (a scalar primitive, a generic JSON struct,
a collection or a map of literals) that Airfoil stores as JSON.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "Literal",
    "LiteralCollection",
    "LiteralMap",
    "LiteralType",
    "Primitive",
    "Scalar",
    "SimpleType",
]


class SimpleType(enum.IntEnum):
    """flytekit's simple literal types."""

    NONE = 0
    INTEGER = 1
    FLOAT = 2
    STRING = 3
    BOOLEAN = 4
    DATETIME = 5
    DURATION = 6
    BINARY = 7
    ERROR = 8
    STRUCT = 9


@dataclass(frozen=True)
class LiteralType:
    """The declared type of a literal (``LiteralType(simple=SimpleType.STRING)``)."""

    simple: SimpleType | None = None
    collection_type: LiteralType | None = None
    map_value_type: LiteralType | None = None
    metadata: dict[str, Any] | None = None


@dataclass(frozen=True)
class Primitive:
    """One primitive value; exactly one field is set."""

    integer: int | None = None
    float_value: float | None = None
    string_value: str | None = None
    boolean: bool | None = None

    @property
    def value(self) -> Any:
        for v in (self.integer, self.float_value, self.string_value, self.boolean):
            if v is not None:
                return v
        return None


@dataclass(frozen=True)
class Scalar:
    """A scalar literal: a primitive, or ``generic`` JSON data (a dict)."""

    primitive: Primitive | None = None
    generic: dict[str, Any] | None = None
    none_type: bool = False


@dataclass(frozen=True)
class LiteralCollection:
    literals: list[Literal] = field(default_factory=list)


@dataclass(frozen=True)
class LiteralMap:
    literals: dict[str, Literal] = field(default_factory=dict)


@dataclass(frozen=True)
class Literal:
    """A value as a flytekit transformer sees it."""

    scalar: Scalar | None = None
    collection: LiteralCollection | None = None
    map: LiteralMap | None = None
    metadata: dict[str, str] | None = None


def literal_to_data(lit: Any) -> Any:
    """A literal as JSON data (tagged, so it reads back exactly)."""
    if not isinstance(lit, Literal):
        raise TypeError(f"to_literal must return a Literal, not {type(lit).__name__}")
    if lit.scalar is not None:
        s = lit.scalar
        if s.primitive is not None:
            p = s.primitive
            for key in ("integer", "float_value", "string_value", "boolean"):
                if getattr(p, key) is not None:
                    return {"p": key, "v": getattr(p, key)}
            return {"none": True}
        if s.generic is not None:
            return {"g": s.generic}
        return {"none": True}
    if lit.collection is not None:
        return {"c": [literal_to_data(x) for x in lit.collection.literals]}
    if lit.map is not None:
        return {"m": {k: literal_to_data(v) for k, v in lit.map.literals.items()}}
    return {"none": True}


def literal_from_data(data: Any) -> Literal:
    """The literal of :func:`literal_to_data`'s JSON data."""
    if "p" in data:
        return Literal(scalar=Scalar(primitive=Primitive(**{data["p"]: data["v"]})))
    if "g" in data:
        return Literal(scalar=Scalar(generic=data["g"]))
    if "c" in data:
        return Literal(collection=LiteralCollection([literal_from_data(x) for x in data["c"]]))
    if "m" in data:
        return Literal(map=LiteralMap({k: literal_from_data(v) for k, v in data["m"].items()}))
    return Literal(scalar=Scalar(none_type=True))
