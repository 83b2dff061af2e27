"""The machine's memory, asked of the OS without psutil where the OS can say."""

from __future__ import annotations

import os

import psutil
import pytest

from airfoil.executors.base import machine_capacity, machine_memory


@pytest.mark.skipif(not hasattr(os, "sysconf"), reason="no sysconf on this OS")
def test_memory_is_what_psutil_reports() -> None:
    assert machine_memory() == psutil.virtual_memory().total
    assert machine_capacity().mem == psutil.virtual_memory().total


def test_without_sysconf_psutil_answers(monkeypatch: pytest.MonkeyPatch) -> None:
    def unsupported(name: str) -> int:
        raise ValueError(f"unrecognized configuration name {name}")

    monkeypatch.setattr(os, "sysconf", unsupported)
    assert machine_memory() == psutil.virtual_memory().total
