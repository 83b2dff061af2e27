"""Which task calls are written inside ``af.gather(...)`` (and so start without waiting)."""

from __future__ import annotations

import sys
from typing import Any

import pytest

from airfoil.sdk._gather import PendingCall, gather, inside_gather


def probe(tag: str, seen: dict[str, bool]) -> str:
    seen[tag] = inside_gather(sys._getframe(1))
    return tag


def wrap(x: Any) -> Any:
    return x


def test_calls_written_inside_gather_are_detected() -> None:
    seen: dict[str, bool] = {}
    gather(probe("arg", seen), wrap(probe("wrapped", seen)))
    gather(*(probe(f"gen{i}", seen) for i in range(2)))
    gather(*[probe("listcomp", seen) for _ in range(1)])
    plain = probe("plain", seen)
    items = [probe("list", seen)]
    gather(plain, *items)
    assert seen == {
        "arg": True,
        "wrapped": False,  # its result feeds another call, not gather
        "gen0": True,
        "gen1": True,
        "listcomp": True,
        "plain": False,
        "list": False,
    }


class _Done(PendingCall):
    def __init__(self, value: Any = None, error: Exception | None = None) -> None:
        self.value, self.error, self.waited = value, error, False

    def result(self) -> Any:
        self.waited = True
        if self.error is not None:
            raise self.error
        return self.value


def test_gather_waits_for_all_then_raises_the_first_error() -> None:
    calls = [_Done(1), _Done(error=KeyError("a")), _Done(error=ValueError("b")), _Done(4)]
    with pytest.raises(KeyError):
        gather(*calls)
    assert all(c.waited for c in calls)
    assert gather(_Done(1), 2, _Done(3)) == [1, 2, 3]
