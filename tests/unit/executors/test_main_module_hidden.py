"""Starting workers hides the driver's ``__main__``, and puts it back, also when several
threads start workers at once (a server's driver slots)."""

from __future__ import annotations

import sys

from airfoil.executors._process_pool import main_module_hidden


def test_overlapping_starts_leave_the_real_main_module_in_place() -> None:
    real = sys.modules["__main__"]
    first, second = main_module_hidden(), main_module_hidden()
    first.__enter__()  # slot A starts a worker...
    assert sys.modules["__main__"] is not real
    second.__enter__()  # ...slot B too, before A is done
    first.__exit__(None, None, None)  # A done first: B still starting, __main__ still hidden
    assert sys.modules["__main__"] is not real
    second.__exit__(None, None, None)
    assert sys.modules["__main__"] is real


def test_the_main_module_comes_back_after_an_error() -> None:
    real = sys.modules["__main__"]
    try:
        with main_module_hidden():
            raise RuntimeError("the worker did not start")
    except RuntimeError:
        pass
    assert sys.modules["__main__"] is real
