"""Python-native composition on the server: a registered task that calls tasks or workflows
runs them as child nodes on the server's worker processes (SQLite and PostgreSQL)."""

from __future__ import annotations

import sys
import textwrap
import time
import uuid
from typing import Any

import pytest

from airfoil.core.errors import NotFoundError

pytestmark = [pytest.mark.integration, pytest.mark.slow]

CODE = textwrap.dedent(
    """
    import time

    import airfoil as af


    class TooSmallError(ValueError):
        pass


    @af.task(retries=1)
    def check(x: int) -> int:
        if x < 2:
            raise TooSmallError(f"{x} is too small")
        return x


    @af.task
    def square(x: int) -> int:
        return check(x=x) * x


    @af.task
    def total(xs: list[int]) -> int:
        out = 0
        for x in xs:
            try:
                out += square(x=x)
            except TooSmallError:
                out -= 1
        return out + sum(af.gather(*(square(x=x) for x in (2, 3))))


    @af.workflow
    def squares(x: int) -> int:
        return square(x=check(x=x))


    @af.task
    def via_workflows(xs: list[int]) -> int:
        out = 0
        for x in xs:
            try:
                out += squares(x=x)
            except TooSmallError:
                out -= 1
        return out


    @af.task
    def sleepy(seconds: float) -> float:
        time.sleep(seconds)
        return seconds


    @af.workflow
    def sleeps(seconds: float) -> float:
        return sleepy(seconds=seconds)


    @af.task
    def calls_sleeps(seconds: float) -> float:
        return sleeps(seconds=seconds)
    """
)


@pytest.fixture(scope="module")
def code(tmp_path_factory: pytest.TempPathFactory) -> Any:
    from airfoil.cli._load import load_entity

    root = tmp_path_factory.mktemp("composeproj")
    name = f"cmp_{uuid.uuid4().hex[:8]}"
    path = root / f"{name}.py"
    path.write_text(CODE)
    load_entity(str(path), "total")
    return sys.modules[name]


def test_a_registered_task_calls_tasks_on_the_server(client: Any, code: Any) -> None:
    client.register([code.total])
    ex = client.launch(code.total, {"xs": [1, 2, 3]})
    detail = client.wait(ex.id, timeout=90)
    assert detail.phase == "succeeded", detail.error
    assert client.outputs(ex.id, code.total) == (-1 + 4 + 9) + (4 + 9)
    children = [n for n in detail.nodes if n.kind == "child"]
    failed = {n.task.rsplit(".", 1)[1]: n for n in children if n.phase == "failed"}
    assert set(failed) == {"check", "square"}, "check(1) failed, and so did square(1)"
    assert failed["check"].attempts == 2, "the child's own retry ran"
    assert failed["square"].error is not None
    assert failed["square"].error.type.endswith("TooSmallError"), "the same exception type"
    nested = [n for n in children if n.id.count(".call") == 2]
    assert nested and all(n.task.endswith(".check") for n in nested)


def test_a_registered_task_calls_a_workflow_as_a_child_on_the_server(
    client: Any, code: Any
) -> None:
    """Before, the call ran as a separate local execution inside the worker process, which
    the server never saw: no child node, nothing under the caller."""
    client.register([code.via_workflows])
    before = client.list().total
    ex = client.launch(code.via_workflows, {"xs": [1, 3]})
    detail = client.wait(ex.id, timeout=90)
    assert detail.phase == "succeeded", detail.error
    assert client.outputs(ex.id, code.via_workflows) == -1 + 9
    assert client.list().total == before + 1, "one execution: the calls are inside it"
    nodes = {n.id: n for n in detail.nodes}
    called = [n for n in nodes.values() if n.kind == "child" and n.parent == "n0"]
    assert sorted(n.phase for n in called) == ["failed", "succeeded"]
    assert all(n.task.endswith(".squares") for n in called)
    bad = next(n for n in called if n.phase == "failed")
    assert bad.error is not None and bad.error.type.endswith("TooSmallError")
    good = next(n for n in called if n.phase == "succeeded")
    inner = sorted(nid for nid, n in nodes.items() if n.parent == good.id)
    assert inner == [f"{good.id}.n0", f"{good.id}.n1"]
    assert all(nodes[nid].phase == "succeeded" for nid in inner)
    # square (a node of the called workflow) called check: a child of that node
    assert any(n.parent == f"{good.id}.n1" and n.kind == "child" for n in nodes.values())
    # The calls ran in the caller's project (they are nodes of its execution): another
    # project sees neither the run nor its called workflows.
    assert detail.project == client.project
    other = f"{client.project}x"
    with pytest.raises(NotFoundError):
        client.get(ex.id, project=other)
    assert client.list(project=other).total == 0


def test_terminating_the_run_stops_its_called_workflow(client: Any, code: Any) -> None:
    client.register([code.calls_sleeps])
    ex = client.launch(code.calls_sleeps, {"seconds": 120.0})
    deadline = time.monotonic() + 60
    while True:
        nodes = client.get(ex.id).nodes
        if any(n.task.endswith(".sleepy") and n.phase == "running" for n in nodes):
            break
        assert time.monotonic() < deadline, [(n.id, n.phase) for n in nodes]
        time.sleep(0.2)
    t0 = time.monotonic()
    client.terminate(ex.id)
    detail = client.wait(ex.id, timeout=60)
    assert detail.phase == "aborted"
    assert time.monotonic() - t0 < 60, "the sleeping node was stopped, not waited for"
    by_task = {n.task.rsplit(".", 1)[1]: n for n in detail.nodes}
    assert by_task["sleeps"].kind == "child" and by_task["sleeps"].phase == "aborted"
    assert by_task["sleepy"].parent == by_task["sleeps"].id
    assert by_task["sleepy"].phase == "aborted"
