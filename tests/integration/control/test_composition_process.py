"""Python-native composition on the process and ray executors: a task running in a worker
calls tasks, and each call runs as a durable child node on a worker of its own.

The tasks live in a module written under ``tmp_path`` (workers import it by name from the
execution's code root); each test drives the engine here, with a real process executor and
the default SQLite store under the test's ``AIRFOIL_HOME``. On Ray the module's tests share
one task module, blob store and executor per worker bound (``RayWorkers``), so their
attempts run in warm workers instead of each test starting its own actors; the store and the
run counts stay each test's.
"""

from __future__ import annotations

import importlib
import json
import os
import signal
import subprocess
import sys
import textwrap
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from airfoil.core.records import AttemptRecord, ExecutionRecord, NodeRecord
from airfoil.engine.runner import Engine, EngineSettings
from airfoil.executors.process import ProcessExecutor
from airfoil.local import get_runtime, spec_of
from airfoil.runtime.worker import worker_runtime
from airfoil.sdk._values import convert_values, decode_values
from airfoil.settings import AirfoilSettings

pytestmark = [pytest.mark.integration, pytest.mark.slow]

TASKS = textwrap.dedent(
    """
    import asyncio
    import os
    import time

    import airfoil as af

    COUNTS = "@COUNTS@"  # where tasks count their runs (written in by the test)


    class NotANumberError(ValueError):
        pass


    def bump(name: str) -> int:
        # Written whole (a rename): a task polling a count (slow_once) never reads a file
        # truncated and not yet written, which failed it with int("") under load.
        path = os.path.join(COUNTS, name)
        n = int(open(path).read()) + 1 if os.path.exists(path) else 1
        with open(f"{path}.{os.getpid()}", "w") as fh:
            fh.write(str(n))
        os.replace(f"{path}.{os.getpid()}", path)
        return n


    @af.task
    def parse(text: str) -> int:
        if not text.isdigit():
            raise NotANumberError(f"{text!r} is not a number")
        return int(text)


    @af.task
    def times_ten(x: int) -> int:
        return parse(text=str(x)) * 10  # a child that calls a child


    @af.task
    def where(x: int) -> int:
        return os.getpid()


    @af.task
    def orchestrate(texts: list[str]) -> dict[str, int]:
        total, bad = 0, 0
        for text in texts:  # plain Python control flow on real values
            try:
                total += times_ten(x=parse(text=text))
            except NotANumberError:  # the child's exception, same type
                bad += 1
        return {"total": total, "bad": bad, "me": os.getpid(), "child": where(x=1)}


    @af.task
    def lets_it_raise(text: str) -> int:
        return parse(text=text)


    @af.task(retries=2)
    def flaky(x: int) -> int:
        if bump(f"flaky-{x}") < 2:
            raise RuntimeError("the first try fails")
        return x


    @af.task
    def calls_flaky(x: int) -> int:
        return flaky(x=x) + 1


    @af.task(cache=True)
    def expensive(x: int) -> int:
        bump(f"expensive-{x}")
        return x * x


    @af.task
    def calls_expensive(x: int) -> int:
        return expensive(x=x)


    @af.task
    def nap(i: int) -> int:
        time.sleep(1.0)
        return i


    @af.task
    def fan_out(n: int) -> list[int]:
        return af.gather(*(nap(i=i) for i in range(n)))


    @af.task
    def fan_out_one_fails(texts: list[str]) -> str:
        try:
            af.gather(*(parse(text=t) for t in texts))
        except NotANumberError as exc:
            return f"caught {exc}"
        return "no error"


    @af.task
    def dies_once_after_a_child(x: int) -> int:
        first = expensive(x=x + 100)  # reused on the re-run as a finished child node
        if bump("dies-once") == 1:
            os.kill(os.getpid(), 9)  # the caller's worker dies after its child succeeded
        return first + parse(text="1")


    @af.task
    def item_calls(x: int) -> int:
        return times_ten(x=x) + 1


    @af.workflow
    def mapped(xs: list[int]) -> list[int]:
        return af.map_task(item_calls)(x=xs)


    @af.task
    async def async_nap(i: int) -> int:
        await asyncio.sleep(1.0)
        return i + 1


    @af.task
    async def async_fan_out(n: int) -> list[int]:
        return list(await asyncio.gather(*(async_nap(i=i) for i in range(n))))


    @af.workflow
    def tens(text: str) -> int:
        return times_ten(x=parse(text=text))


    @af.task
    def calls_workflows(texts: list[str]) -> dict[str, int]:
        total, bad = 0, 0
        for text in texts:
            try:
                total += tens(text=text)
            except NotANumberError:  # raised by a node of the called workflow
                bad += 1
        return {"total": total, "bad": bad, "both": sum(af.gather(tens(text="1"), tens(text="2")))}


    def count(name: str) -> int:
        path = os.path.join(COUNTS, name)
        return int(open(path).read()) if os.path.exists(path) else 0


    @af.task
    def slow_once(x: int) -> int:
        bump(f"slow-{x}")
        deadline = time.time() + 60
        while count("outlived") < 2 and time.time() < deadline:  # its caller's retry started
            time.sleep(0.1)
        return x


    @af.workflow
    def slow_wf(x: int) -> int:
        return slow_once(x=x)


    @af.task(timeout="4s")
    def outlived_by_its_call(x: int) -> int:
        bump("outlived")
        return slow_wf(x=x) + 1


    @af.task(timeout="4s")
    def outlived_by_its_task_call(x: int) -> int:
        bump("outlived")
        return slow_once(x=x) + 1
    """
)


def _write_tasks(root: Path) -> tuple[Path, Path, ModuleType]:
    """The task module under ``root/code`` (counting runs in ``root/counts``), imported."""
    code, counts = root / "code", root / "counts"
    code.mkdir()
    counts.mkdir()
    name = f"compose_tasks_{uuid.uuid4().hex[:8]}"
    (code / f"{name}.py").write_text(TASKS.replace("@COUNTS@", str(counts)))
    sys.path.insert(0, str(code))
    return code, counts, importlib.import_module(name)


class RayWorkers:
    """The module's tests on Ray share their task module, a blob store and one ray executor
    per worker bound: attempts of one task environment (code root, blob store, requests) run
    in warm worker actors, so each test does not start its own (an actor's start is most of
    a short test on Ray). Each test still has its own store (executions, nodes, caches) and
    its own run counts."""

    def __init__(self, root: Path) -> None:
        self.code, self.counts, self.tasks = _write_tasks(root)
        self.blob_url = str(root / "blobs")
        self._executors: dict[int, Any] = {}

    def executor(self, max_workers: int) -> Any:
        from airfoil.executors.ray import RayExecutor

        if max_workers not in self._executors:
            self._executors[max_workers] = RayExecutor(
                self.blob_url, runtime=worker_runtime, max_workers=max_workers
            )
        return self._executors[max_workers]

    def close(self) -> None:
        for ex in self._executors.values():
            ex.close()
        sys.path.remove(str(self.code))


class Flow:
    """The task module, imported here, and an engine with a process (or ray) executor."""

    def __init__(
        self, tmp_path: Path, kind: str = "process", ray: RayWorkers | None = None
    ) -> None:
        self.kind = kind
        self.ray = ray
        if ray is None:
            self.code, self.counts, self.tasks = _write_tasks(tmp_path)
            self.rt = get_runtime()
        else:
            self.code, self.counts, self.tasks = ray.code, ray.counts, ray.tasks
            for f in self.counts.iterdir():  # the previous test's counts
                f.unlink()
            self.rt = get_runtime(AirfoilSettings(blob_url=ray.blob_url))
        self.executors: list[Any] = []

    def run(self, task: str, max_workers: int = 4, **inputs: Any) -> ExecutionRecord:
        executor: Any
        if self.ray is not None:
            executor = self.ray.executor(max_workers)
        else:
            executor = ProcessExecutor(
                self.rt.blob_url, max_workers=max_workers, runtime=worker_runtime
            )
            self.executors.append(executor)
        engine = Engine(
            self.rt.meta,
            self.rt.blobs,
            executor,
            blob_url=self.rt.blob_url,
            settings=EngineSettings(max_parallel=max_workers),
        )
        entity = getattr(self.tasks, task)
        values = convert_values(entity, inputs, self.rt.types, self.rt.blobs)
        record = engine.launch(spec_of(entity), values, code_root=str(self.code))
        return engine.drive(record.id)

    def output(self, task: str, record: ExecutionRecord) -> Any:
        entity = getattr(self.tasks, task)
        return decode_values(entity, record.outputs or {}, self.rt.types, self.rt.blobs)

    def children(self, record: ExecutionRecord) -> list[NodeRecord]:
        return [n for n in self.rt.meta.get_nodes(record.id) if n.kind == "child"]

    def attempts(self, record: ExecutionRecord, task: str) -> list[AttemptRecord]:
        nodes = {n.node_id for n in self.children(record) if n.task.endswith("." + task)}
        return [a for a in self.rt.meta.get_attempts(record.id) if a.node_id in nodes]

    def count(self, name: str) -> int:
        path = self.counts / name
        return int(path.read_text()) if path.exists() else 0

    def close(self) -> None:
        for ex in self.executors:
            ex.close()
        if self.ray is None:
            sys.path.remove(str(self.code))


@pytest.fixture(scope="module")
def ray_workers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RayWorkers]:
    shared = RayWorkers(tmp_path_factory.mktemp("compose-ray"))
    yield shared
    shared.close()


@pytest.fixture(params=["process", "ray"])
def flow(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Flow]:
    ray = None
    if request.param == "ray":
        request.getfixturevalue("ray_session")
        ray = request.getfixturevalue("ray_workers")
    f = Flow(tmp_path, request.param, ray)
    yield f
    f.close()


def test_children_run_on_other_workers_with_real_values_and_exceptions(flow: Flow) -> None:
    # One worker at most: the caller and its nested children can only all run because a
    # caller waiting on a child does not hold a worker slot.
    record = flow.run("orchestrate", max_workers=1, texts=["1", "x", "3"])
    assert record.phase == "succeeded", record.error
    out = flow.output("orchestrate", record)
    assert out["total"] == 10 + 30 and out["bad"] == 1
    assert out["child"] != out["me"], "the child ran in another worker process"
    children = flow.children(record)
    assert {n.parent for n in children if "." not in n.node_id.removeprefix("n0.")} == {"n0"}
    nested = [n for n in children if n.node_id.count(".call") == 2]
    assert len(nested) == 2 and all(n.task.endswith(".parse") for n in nested)
    assert all(n.parent.startswith("n0.call") for n in nested)
    failed = [n for n in children if n.phase == "failed"]
    assert len(failed) == 1 and failed[0].error is not None
    assert failed[0].error.type.endswith("NotANumberError")


def test_an_uncaught_child_exception_fails_the_caller_with_its_type(flow: Flow) -> None:
    record = flow.run("lets_it_raise", text="nope")
    assert record.phase == "failed"
    assert record.error is not None
    assert record.error.type.endswith("NotANumberError")
    assert "is not a number" in record.error.message
    assert "raised in child task" in record.error.traceback


def test_a_child_gets_its_own_retries(flow: Flow) -> None:
    record = flow.run("calls_flaky", x=5)
    assert record.phase == "succeeded", record.error
    assert flow.output("calls_flaky", record) == 6
    (child,) = flow.children(record)
    assert child.attempts == 2 and flow.count("flaky-5") == 2
    caller = next(n for n in flow.rt.meta.get_nodes(record.id) if n.node_id == "n0")
    assert caller.attempts == 1, "the retry was the child's, not the caller's"


def test_a_child_hits_the_cache(flow: Flow) -> None:
    first = flow.run("calls_expensive", x=7)
    second = flow.run("calls_expensive", x=7)
    assert flow.output("calls_expensive", first) == flow.output("calls_expensive", second) == 49
    assert flow.count("expensive-7") == 1
    (child,) = flow.children(second)
    assert child.cache_status == "hit"
    assert flow.attempts(second, "expensive") == []


def test_gathered_children_run_concurrently(flow: Flow) -> None:
    record = flow.run("fan_out", max_workers=4, n=3)
    assert record.phase == "succeeded", record.error
    assert flow.output("fan_out", record) == [0, 1, 2]
    naps = flow.attempts(record, "nap")
    assert len(naps) == 3
    assert all(a.ended_at is not None for a in naps)
    # Every nap started before any ended: all three ran at the same time.
    assert max(a.started_at for a in naps) < min(a.ended_at or 0 for a in naps)


def test_a_gathered_child_failure_is_raised_after_all_finish(flow: Flow) -> None:
    record = flow.run("fan_out_one_fails", texts=["1", "b", "3"])
    assert record.phase == "succeeded", record.error
    assert flow.output("fan_out_one_fails", record) == "caught 'b' is not a number"
    phases = sorted(n.phase for n in flow.children(record))
    assert phases == ["failed", "succeeded", "succeeded"]


def test_async_children_gathered_with_asyncio_run_concurrently(flow: Flow) -> None:
    record = flow.run("async_fan_out", max_workers=4, n=3)
    assert record.phase == "succeeded", record.error
    assert flow.output("async_fan_out", record) == [1, 2, 3]
    naps = flow.attempts(record, "async_nap")
    assert len(naps) == 3
    assert max(a.started_at for a in naps) < min(a.ended_at or 0 for a in naps)


def test_a_caller_whose_worker_dies_reuses_its_finished_children(flow: Flow) -> None:
    record = flow.run("dies_once_after_a_child", x=1)
    assert record.phase == "succeeded", record.error
    assert flow.output("dies_once_after_a_child", record) == 101 * 101 + 1
    caller = next(n for n in flow.rt.meta.get_nodes(record.id) if n.node_id == "n0")
    assert caller.attempts == 2, "the caller was retried after its worker died"
    assert flow.count("expensive-101") == 1, "its finished child did not run again"
    (first,) = [n for n in flow.children(record) if n.task.endswith(".expensive")]
    assert first.attempts == 1 and first.cache_status != "hit"


def test_map_items_call_tasks(flow: Flow) -> None:
    record = flow.run("mapped", max_workers=2, xs=[1, 2, 3])
    assert record.phase == "succeeded", record.error
    assert flow.output("mapped", record) == [11, 21, 31]
    direct = [n for n in flow.children(record) if n.task.endswith(".times_ten")]
    assert sorted(n.parent for n in direct) == ["n0[0]", "n0[1]", "n0[2]"]


def test_a_task_in_a_worker_calls_workflows_as_child_nodes(flow: Flow) -> None:
    record = flow.run("calls_workflows", max_workers=2, texts=["1", "x", "3"])
    assert record.phase == "succeeded", record.error
    assert flow.output("calls_workflows", record) == {"total": 40, "bad": 1, "both": 30}
    assert len(flow.rt.meta.list_executions(limit=1000)) == 1, "no second execution"
    children = flow.children(record)
    called = [n for n in children if n.parent == "n0"]
    assert len(called) == 5 and all(n.task.endswith(".tens") for n in called)
    bad = next(n for n in called if n.phase == "failed")
    assert bad.error is not None and bad.error.type.endswith("NotANumberError")
    nodes = {n.node_id: n for n in flow.rt.meta.get_nodes(record.id)}
    assert nodes[f"{bad.node_id}.n0"].phase == "failed"
    assert nodes[f"{bad.node_id}.n1"].phase == "aborted"
    # times_ten, a node of the called workflow, called parse: a child of that node
    good = next(n for n in called if n.phase == "succeeded")
    assert any(n.parent == f"{good.node_id}.n1" for n in children)


@pytest.mark.timeout(120)
@pytest.mark.parametrize("caller", ["outlived_by_its_call", "outlived_by_its_task_call"])
def test_a_caller_retried_while_its_call_runs_waits_for_that_run(flow: Flow, caller: str) -> None:
    """The caller's first attempt passes its timeout while the workflow it called still
    runs (its node runs until the caller's second attempt has started): the retry makes the
    same call and waits for the same run (no second run of the workflow's node, no orphan
    left running). The same for a called task. On Ray the retry's wait was never answered:
    the first attempt's wait, still pending in the mailbox, took the outcome."""
    record = flow.run(caller, max_workers=2, x=3)
    assert record.phase == "succeeded", record.error
    assert flow.output(caller, record) == 4
    nodes = {n.node_id: n for n in flow.rt.meta.get_nodes(record.id)}
    assert nodes["n0"].attempts == 2 and flow.count("outlived") == 2
    assert flow.count("slow-3") == 1, "the called node ran once"
    (called,) = [n for n in flow.children(record) if n.parent == "n0"]
    assert called.phase == "succeeded"
    runs = called if called.kind == "child" and called.attempts else nodes[f"{called.node_id}.n0"]
    assert runs.attempts == 1


SCRIPT = textwrap.dedent(
    """
    import os, time
    import airfoil as af

    LOG = os.environ["CHILD_LOG"]

    @af.task
    def step(i: int) -> int:
        with open(LOG, "a") as fh:
            fh.write(f"{i} {os.getpid()}\\n")
        if i == 2 and not os.path.exists(LOG + ".resumed"):
            time.sleep(60)
        return i * 10

    @af.task
    def caller(n: int) -> int:
        return sum(step(i=i) for i in range(n))
    """
)


@pytest.mark.timeout(120)
def test_sigkill_of_the_driver_then_resume_reruns_only_unfinished_children(
    tmp_path: Path,
) -> None:
    script = tmp_path / "childproc.py"
    script.write_text(SCRIPT)
    log = tmp_path / "child.log"
    env = dict(os.environ, CHILD_LOG=str(log), AIRFOIL_HOME=str(tmp_path / "home"))
    cli = [sys.executable, "-m", "airfoil.cli"]
    run = [*cli, "run", "--name", "p1", "--executor", "process", str(script), "caller", "--n", "4"]
    proc = subprocess.Popen(
        run, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True
    )
    deadline = time.time() + 60
    while time.time() < deadline and not (
        log.exists() and any(line.startswith("2 ") for line in log.read_text().splitlines())
    ):
        time.sleep(0.05)
    os.kill(proc.pid, signal.SIGKILL)  # the driver only: its workers must die with it
    proc.wait(timeout=10)
    first = [line.split() for line in log.read_text().splitlines()]
    assert [i for i, _ in first] == ["0", "1", "2"]
    assert proc.pid not in {int(pid) for _, pid in first}, "children ran in worker processes"
    (tmp_path / "child.log.resumed").write_text("")
    resumed = subprocess.run(
        [*cli, "executions", "resume", "p1", "--json"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert resumed.returncode == 0, resumed.stderr
    data = json.loads(resumed.stdout)
    assert data["outputs"] == {"o0": 60}
    steps = [line.split()[0] for line in log.read_text().splitlines()]
    assert steps == ["0", "1", "2", "2", "3"], "finished children 0 and 1 did not run again"
    step2 = next(n for n in data["nodes"] if n["id"].startswith("n0.call3-"))
    assert step2["attempts"] == 2, "the child lost in the crash was run again"


EXAMPLE = Path(__file__).resolve().parents[3] / "examples" / "composition.py"


@pytest.mark.timeout(120)
def test_the_example_runs_on_the_process_executor(tmp_path: Path) -> None:
    env = dict(os.environ, AIRFOIL_HOME=str(tmp_path / "home"))
    urls = json.dumps(["a.csv", "bb.csv", "bad"])
    cmd = [sys.executable, "-m", "airfoil.cli", "run", "--executor", "process", "--json"]
    done = subprocess.run(
        [*cmd, str(EXAMPLE), "score_all", "--urls", urls],
        env=env,
        capture_output=True,
        text=True,
        timeout=100,
    )
    assert done.returncode == 0, done.stderr
    data = json.loads(done.stdout)
    assert data["outputs"] == {"o0": {"a.csv": 7.0, "bb.csv": 8.0}}
    bad = [n for n in data["nodes"] if n["phase"] == "failed"]
    assert len(bad) == 1 and bad[0]["attempts"] == 2
