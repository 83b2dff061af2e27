"""Binding a run's Python inputs (``InputBinder.from_python``, what ``wf(x=1)`` and
``airfoil run`` do before a run starts): three scalars, and one ``list[int]`` of a million
items, with their serialisation. Prints the median and spread of each; compare against
another checkout by running this with its ``src`` on PYTHONPATH.

    python benchmarks/bench_input_bind.py
"""

from __future__ import annotations

import sys
import tempfile

import airfoil as af
from airfoil.sdk._values import convert_values
from airfoil.store.blob import open_blob_store
from airfoil.types import default_type_engine

sys.path.insert(0, __file__.rsplit("/", 1)[0])
from _util import measure, summary


@af.task
def scalars(a: int, b: float, c: str) -> int:
    return a


@af.task
def many(xs: list[int]) -> int:
    return len(xs)


def main() -> None:
    types = default_type_engine()
    with tempfile.TemporaryDirectory() as home:
        blobs = open_blob_store(home)
        big = list(range(1_000_000))
        cases = {
            "3 scalars (us)": (
                lambda: convert_values(scalars, {"a": 7, "b": 0.5, "c": "x"}, types, blobs),
                2000,
                1e6,
            ),
            "list[int] of 1e6 (ms)": (
                lambda: convert_values(many, {"xs": big}, types, blobs),
                1,
                1e3,
            ),
        }
        for name, (fn, inner, scale) in cases.items():

            def batch(fn: object = fn, inner: int = inner) -> None:
                for _ in range(inner):
                    fn()  # type: ignore[operator]

            med, lo, hi = summary([s / inner * scale for s in measure(batch, runs=7)])
            print(f"{name:24s} median {med:9.2f}  min {lo:9.2f}  max {hi:9.2f}")


if __name__ == "__main__":
    main()
