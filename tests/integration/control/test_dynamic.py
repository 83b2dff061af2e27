"""@dynamic: graphs built at run time from real values, recorded as children, resumable."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pandas as pd
import pytest

import airfoil as af
from airfoil.local import get_runtime

pytestmark = pytest.mark.integration


@af.task
def square(x: int) -> int:
    return x * x


@af.task
def add(a: int, b: int) -> int:
    return a + b


@af.task
def frame(n: int) -> pd.DataFrame:
    return pd.DataFrame({"x": range(n)})


@af.task
def rows(df: pd.DataFrame) -> int:
    return len(df)


@af.dynamic
def sum_of_squares(xs: list[int]) -> int:
    total = square(x=0)
    for x in xs:  # a real list: loops and ifs on real values
        if x % 2 == 0:
            total = add(a=total, b=square(x=x))
    return total


@af.dynamic
def nested(n: int) -> int:
    if n <= 1:
        return square(x=n)
    return add(a=nested(n=n - 1), b=square(x=n))


@af.dynamic
def with_frame(df: pd.DataFrame) -> int:
    return rows(df=df)


@af.workflow
def uses_dynamic(xs: list[int]) -> int:
    return add(a=sum_of_squares(xs=xs), b=1)


def test_loops_and_ifs_on_real_values() -> None:
    assert uses_dynamic(xs=[1, 2, 3, 4]) == 4 + 16 + 1
    rt = get_runtime()
    record = rt.meta.list_executions(limit=1)[0]
    nodes = {n.node_id: n for n in rt.meta.get_nodes(record.id)}
    dyn = nodes["n0"]
    assert dyn.dynamic_spec is not None and dyn.phase == "succeeded"
    children = [k for k in nodes if k.startswith("n0.")]
    assert len(children) == 5  # square(0), square(2), add, square(4), add
    assert all(nodes[c].parent == "n0" for c in children)


def test_nested_dynamics_and_large_values() -> None:
    assert nested(n=4) == 1 + 4 + 9 + 16
    assert with_frame(df=pd.DataFrame({"x": range(100_000)})) == 100_000


def test_type_errors_in_the_built_graph_fail_the_node() -> None:
    @af.dynamic
    def wrong(x: int) -> int:
        return square(x=str(x))  # type: ignore[arg-type]

    with pytest.raises(af.ExecutionFailedError, match="expects int"):
        wrong(x=1)


DYN_SCRIPT = textwrap.dedent(
    """
    import os, time
    import airfoil as af

    LOG = os.environ["DYN_LOG"]

    @af.task
    def step(i: int) -> int:
        with open(LOG, "a") as fh:
            fh.write(f"{i}\\n")
        if i == 2 and not os.path.exists(LOG + ".resumed"):
            time.sleep(60)
        return i

    @af.task
    def total(xs: list[int]) -> int:
        return sum(xs)

    @af.dynamic
    def fan(n: int) -> int:
        return total(xs=[step(i=i) for i in range(n)])
    """
)


@pytest.mark.slow
@pytest.mark.timeout(120)
def test_sigkill_in_a_dynamic_graph_then_resume(tmp_path: Path) -> None:
    script = tmp_path / "dynwf.py"
    script.write_text(DYN_SCRIPT)
    log = tmp_path / "dyn.log"
    env = dict(os.environ, DYN_LOG=str(log), AIRFOIL_HOME=str(tmp_path / "home"))
    cli = [sys.executable, "-m", "airfoil.cli"]
    proc = subprocess.Popen(
        [*cli, "run", "--name", "d1", str(script), "fan", "--n", "4"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )
    deadline = time.time() + 60
    while time.time() < deadline and not (log.exists() and "2\n" in log.read_text()):
        time.sleep(0.05)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait(timeout=10)
    (tmp_path / "dyn.log.resumed").write_text("")
    resumed = subprocess.run(
        [*cli, "executions", "resume", "d1", "--json"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert resumed.returncode == 0, resumed.stderr
    assert json.loads(resumed.stdout)["outputs"] == {"o0": 6}
    assert log.read_text().splitlines() == ["0", "1", "2", "2", "3"]
