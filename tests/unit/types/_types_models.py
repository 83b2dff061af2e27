"""Types shared by the type engine tests (module level, so they pickle and resolve)."""

from __future__ import annotations

import dataclasses
import datetime as dt
import enum
from typing import Optional

import pydantic


class Color(enum.Enum):
    RED = "r"
    GREEN = "g"
    BLUE = "b"


class Perm(enum.Flag):
    R = 4
    W = 2
    X = 1


@dataclasses.dataclass
class Point:
    x: int
    y: float = 0.0


@dataclasses.dataclass(frozen=True)
class Shape:
    name: str
    points: list[Point]
    color: Color
    created: dt.datetime
    tags: frozenset[str] = frozenset()
    parent: Optional[Shape] = None  # noqa: UP045 - checks typing.Optional resolution
    blob: bytes = b""


@dataclasses.dataclass
class Tree:
    value: int
    children: list[Tree] = dataclasses.field(default_factory=list)


@dataclasses.dataclass
class WithComputed:
    a: int
    doubled: int = dataclasses.field(init=False)

    def __post_init__(self) -> None:
        self.doubled = 2 * self.a


class Model(pydantic.BaseModel):
    name: str
    when: dt.datetime
    sizes: tuple[int, ...] = ()
    color: Color = Color.RED


class Opaque:
    """A class no converter knows: pickled."""

    def __init__(self, value: object) -> None:
        self.value = value

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Opaque) and other.value == self.value

    def __hash__(self) -> int:
        return hash(self.value)


class OtherOpaque(Opaque):
    pass


class Money:
    """A plugin-converted type."""

    def __init__(self, cents: int, currency: str) -> None:
        self.cents = cents
        self.currency = currency

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Money) and (other.cents, other.currency) == (
            self.cents,
            self.currency,
        )

    def __hash__(self) -> int:
        return hash((self.cents, self.currency))
