"""Type engine benchmarks: small-value overhead and the DataFrame path.

Run: ``python benchmarks/bench_types.py [--rows 1000000] [--repeat 5]``

Prints
- ns per ``to_value`` + ``to_python`` of a small int (the per-task orchestration budget);
- ns per round trip of a small dataclass-free record (``dict[str, list[int]]``);
- for a ``rows x 10`` float pandas DataFrame: the median time of ``to_value`` + ``to_python``
  through the engine into a local blob store, the median time of writing and reading the same
  frame as Parquet by hand with pyarrow, and their ratio (target: <= 1.5).
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import time
import timeit

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "src"))

from _util import temp_dir

from airfoil.store.blob import LocalBlobStore
from airfoil.types import TypeEngine, ValueContext


def bench_small(engine: TypeEngine, ctx: ValueContext, value: object, tp: object) -> float:
    def trip() -> None:
        engine.to_python(engine.to_value(value, tp, ctx), tp, ctx)

    trip()
    number = 20_000
    best = min(timeit.repeat(trip, number=number, repeat=5))
    return best / number * 1e9


def bench_frame(rows: int, repeat: int) -> tuple[float, float]:
    import numpy as np
    import pandas as pd
    import pyarrow as pa
    import pyarrow.parquet as pq

    df = pd.DataFrame(
        np.random.default_rng(0).random((rows, 10)), columns=[f"c{i}" for i in range(10)]
    )
    engine = TypeEngine()
    root = temp_dir(prefix="airfoil-bench-")
    by_engine, by_hand = [], []
    try:
        for i in range(repeat):
            store = os.path.join(root, f"store{i}")
            ctx = ValueContext(LocalBlobStore(store))
            t0 = time.perf_counter()
            value = engine.to_value(df, pd.DataFrame, ctx)
            back = engine.to_python(value, pd.DataFrame, ctx)
            by_engine.append(time.perf_counter() - t0)
            assert back.shape == df.shape
            del back

            path = os.path.join(root, f"hand{i}.parquet")
            t0 = time.perf_counter()
            pq.write_table(pa.Table.from_pandas(df), path)
            back = pq.read_table(path).to_pandas()
            by_hand.append(time.perf_counter() - t0)
            del back
            shutil.rmtree(store, ignore_errors=True)
            os.remove(path)
    finally:
        shutil.rmtree(root, ignore_errors=True)
    return statistics.median(by_engine), statistics.median(by_hand)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()

    engine = TypeEngine()
    with tempfile.TemporaryDirectory() as root:
        ctx = ValueContext(LocalBlobStore(root))
        print(f"small int to_value+to_python:        {bench_small(engine, ctx, 42, int):8.0f} ns")
        record = {"a": [1, 2, 3], "b": [4, 5]}
        ns = bench_small(engine, ctx, record, dict[str, list[int]])
        print(f"dict[str, list[int]] round trip:     {ns:8.0f} ns")

    t_engine, t_hand = bench_frame(args.rows, args.repeat)
    print(f"DataFrame {args.rows}x10 engine to_value+to_python: {t_engine * 1e3:8.1f} ms (median)")
    print(f"DataFrame {args.rows}x10 by-hand pyarrow parquet:   {t_hand * 1e3:8.1f} ms (median)")
    print(f"ratio engine / by hand: {t_engine / t_hand:.2f} (target <= 1.5)")


if __name__ == "__main__":
    main()
