"""Caching you can trust: hits, misses after input or helper-code changes, repair of missing
blobs, and cache_serialize across concurrent attempts."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

import airfoil as af
from airfoil.local import get_runtime

pytestmark = pytest.mark.integration

RUNS: list[int] = []


@af.task(cache=True)
def big_frame(n: int) -> pd.DataFrame:
    RUNS.append(n)
    return pd.DataFrame({"x": list(range(n))})


@af.task
def total(df: pd.DataFrame) -> int:
    return int(df["x"].sum())


@af.workflow
def frame_wf(n: int) -> int:
    return total(df=big_frame(n=n))


def test_missing_blob_is_a_miss_and_is_repaired() -> None:
    RUNS.clear()
    assert frame_wf(n=20_000) == sum(range(20_000))
    rt = get_runtime()
    (entry,) = rt.meta.list_cache(task=big_frame.name)
    (value,) = entry.outputs.values()
    assert value.uri, "a 20,000-row frame is offloaded"
    rt.blobs.delete(value.uri)
    assert frame_wf(n=20_000) == sum(range(20_000))
    assert RUNS == [20_000, 20_000]
    latest = rt.meta.list_executions(limit=1)[0]
    node = rt.meta.get_node(latest.id, "n0")
    assert node.cache_status == "put" and "missing from the blob store" in node.cache_reason
    assert frame_wf(n=20_000) == sum(range(20_000))  # repaired: a hit again
    assert RUNS == [20_000, 20_000]


@af.task(cache=True)
def frames(n: int) -> list[pd.DataFrame]:
    RUNS.append(n)
    return [pd.DataFrame({"x": list(range(n))}), pd.DataFrame({"x": list(range(n, 2 * n))})]


@af.task
def totals(dfs: list[pd.DataFrame]) -> int:
    return int(sum(df["x"].sum() for df in dfs))


@af.workflow
def frames_wf(n: int) -> int:
    return totals(dfs=frames(n=n))


@pytest.mark.parametrize("damage", ["delete", "overwrite"])
def test_a_missing_or_damaged_blob_inside_a_container_output_is_a_miss(damage: str) -> None:
    # Before: the hit checked only the list's own (inline) value, so the entry was served and
    # the next task failed reading the frame (a user error NotFoundError / CorruptBlobError),
    # in this run and in every later one until the cache was cleared by hand.
    RUNS.clear()
    n = 20_000 + len(damage)  # a key of this test's own
    assert frames_wf(n=n) == sum(range(2 * n))
    rt = get_runtime()
    entry = max(rt.meta.list_cache(task=frames.name), key=lambda e: e.created_at)
    (listing,) = entry.outputs.values()
    assert listing.inline is not None, "the list of references is small enough to be inline"
    refs = [item["$airfoil"] for item in json.loads(listing.inline)]
    assert all("inline" not in r for r in refs), "each 20,000-row frame is offloaded"
    second = rt.blobs.local_path(rt.blobs.uri(f"values/{refs[1]['hash'][:2]}/{refs[1]['hash']}"))
    assert second is not None and os.path.exists(second)
    if damage == "delete":
        os.remove(second)
    else:
        Path(second).write_bytes(b"not the frame")
    assert frames_wf(n=n) == sum(range(2 * n))
    assert [n, n] == RUNS
    latest = rt.meta.list_executions(limit=1)[0]
    node = rt.meta.get_node(latest.id, "n0")
    why = "missing from the blob store" if damage == "delete" else "corrupt in the blob store"
    assert node.cache_status == "put" and why in node.cache_reason, node.cache_reason
    assert frames_wf(n=n) == sum(range(2 * n))  # repaired: a hit again
    assert [n, n] == RUNS


@af.task(cache=True, cache_ignore_inputs=["verbose"])
def ignore_some(x: int, verbose: bool) -> int:
    RUNS.append(x)
    return x * 2


def test_cache_ignore_inputs_and_explicit_version() -> None:
    RUNS.clear()
    assert ignore_some(x=2, verbose=True) == 4
    assert ignore_some(x=2, verbose=False) == 4
    assert RUNS == [2]

    @af.task(cache=True, cache_version="1", name="versioned")
    def v1(x: int) -> int:
        return x + 1

    @af.task(cache=True, cache_version="2", name="versioned")
    def v2(x: int) -> int:
        return x + 100

    assert v1(x=1) == 2
    assert v2(x=1) == 101  # a changed version never hits


SERIAL_LOG: list[float] = []


@af.task(cache=True, cache_serialize=True)
def slow_square(x: int) -> int:
    SERIAL_LOG.append(time.time())
    time.sleep(0.5)
    return x * x


def test_cache_serialize_runs_once_while_others_wait() -> None:
    SERIAL_LOG.clear()
    results: list[int] = []

    def call() -> None:
        results.append(slow_square(x=7))

    threads = [threading.Thread(target=call) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert results == [49, 49, 49]
    assert len(SERIAL_LOG) == 1, "only one attempt computes; the others wait and hit"
    rt = get_runtime()
    statuses = sorted(
        rt.meta.get_node(r.id, "n0").cache_status for r in rt.meta.list_executions(limit=3)
    )
    assert statuses == ["hit", "hit", "put"]


HELPER_PROJECT = {
    "helpers.py": "def scale(x):\n    return x * {factor}\n",
    "unrelated.py": "def other():\n    return {other}\n",
    "flow.py": textwrap.dedent(
        """
        import os
        import airfoil as af
        from helpers import scale

        @af.task(cache=True)
        def compute(x: int) -> int:
            with open(os.environ["RUN_LOG"], "a") as fh:
                fh.write("ran\\n")
            return scale(x)

        @af.workflow
        def wf(x: int = 3) -> int:
            return compute(x=x)
        """
    ),
}


def _write_project(root: Path, factor: int, other: int) -> None:
    for name, text in HELPER_PROJECT.items():
        (root / name).write_text(
            text.format(factor=factor, other=other) if "{" in text and name != "flow.py" else text
        )


@pytest.mark.slow
def test_helper_code_change_misses_unrelated_change_hits(tmp_path: Path) -> None:
    project = tmp_path / "proj"
    project.mkdir()
    log = tmp_path / "runs.log"
    env = dict(os.environ, RUN_LOG=str(log), AIRFOIL_HOME=str(tmp_path / "home"))

    def run() -> dict[str, object]:
        proc = subprocess.run(
            [sys.executable, "-m", "airfoil.cli", "run", "--json", str(project / "flow.py"), "wf"],
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert proc.returncode == 0, proc.stderr
        return json.loads(proc.stdout)  # type: ignore[no-any-return]

    _write_project(project, factor=2, other=1)
    first = run()
    assert first["outputs"] == {"o0": 6}
    _write_project(project, factor=2, other=5)  # unrelated file changed
    second = run()
    assert second["nodes"][0]["cache"] == "hit"  # type: ignore[index]
    _write_project(project, factor=3, other=5)  # a helper the task calls changed
    third = run()
    assert third["outputs"] == {"o0": 9}
    assert third["nodes"][0]["cache"] == "put"  # type: ignore[index]
    assert "version changed" in third["nodes"][0]["cache_reason"]  # type: ignore[index]
    assert log.read_text().count("ran") == 2


def test_two_domains_of_a_project_never_share_an_entry(tmp_path: Path) -> None:
    """A development run neither serves production's results nor is served by them (as
    Flyte scopes its cache by project and domain): the same code and inputs, two entries."""
    project = tmp_path / "proj"
    project.mkdir()
    (project / "flow.py").write_text(
        textwrap.dedent(
            """
            import airfoil as af

            @af.task(cache=True, cache_version="1")
            def t(x: int) -> int:
                return x + 1

            @af.workflow
            def wf(x: int = 1) -> int:
                return t(x=x)
            """
        )
    )

    def airfoil(domain: str, *args: str) -> subprocess.CompletedProcess[str]:
        return _cli(project, tmp_path / "home", {"AIRFOIL_DOMAIN": domain}, *args)

    def run(domain: str) -> dict[str, str]:
        node: dict[str, str] = _run_wf(project, tmp_path / "home", AIRFOIL_DOMAIN=domain)[0]
        return node

    assert run("development")["cache"] == "put"
    production = run("production")
    assert production["cache"] == "put", production  # not development's entry
    assert "no cached result" in production["cache_reason"]
    assert run("development")["cache"] == "hit"
    assert run("production")["cache"] == "hit"
    listed = json.loads(airfoil("development", "cache", "list", "--json").stdout)
    assert sorted(e["scope"] for e in listed) == [
        "project:default/development",
        "project:default/production",
    ]


def _cli(
    project: Path, home: Path, env: dict[str, str], *args: str
) -> subprocess.CompletedProcess[str]:
    """``airfoil *args`` in ``project`` on ``home``, with ``env`` set."""
    return subprocess.run(
        [sys.executable, "-m", "airfoil.cli", *args],
        cwd=project,
        env={**os.environ, "AIRFOIL_HOME": str(home), **env},
        capture_output=True,
        text=True,
        timeout=120,
    )


def _run_wf(project: Path, home: Path, **env: str) -> list[dict[str, Any]]:
    """``airfoil run --json flow.py wf``, succeeded: its nodes."""
    proc = _cli(project, home, env, "run", "--json", "flow.py", "wf")
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    assert out["phase"] == "succeeded", out
    nodes: list[dict[str, Any]] = out["nodes"]
    return nodes


PROJECTS_FLOW = textwrap.dedent(
    """
    import airfoil as af

    @af.task(cache=True)
    def cube(x: int) -> int:
        return x * x * x

    @af.task
    def outer(x: int) -> int:
        return cube(x=x + 100)

    @af.dynamic
    def dyn(x: int) -> int:
        return cube(x=x + 200)

    @af.task
    def add(a: int, b: int, c: int) -> int:
        return a + b + c

    @af.workflow
    def wf(x: int = 2) -> int:
        return add(a=cube(x=x), b=outer(x=x), c=dyn(x=x))
    """
)


def test_two_projects_on_one_home_never_share_an_entry(tmp_path: Path) -> None:
    """Two projects (``AIRFOIL_PROJECT``) on one home run the same cached code with the same
    inputs, as a workflow's node, a task a task calls and a ``@dynamic`` child: neither hits
    the other's entries."""
    project, home = tmp_path / "proj", tmp_path / "home"
    project.mkdir()
    (project / "flow.py").write_text(PROJECTS_FLOW)

    def cached(name: str) -> list[str]:
        nodes = _run_wf(project, home, AIRFOIL_PROJECT=name)
        return [n["cache"] for n in nodes if n.get("cache") not in (None, "disabled")]

    beta = cached("beta")
    assert beta == ["put"] * 3, beta  # the node, the child call, the dynamic child
    assert cached("alpha") == ["put"] * 3  # every one run again, none of beta's served
    assert cached("alpha") == ["hit"] * 3  # alpha's own entries
