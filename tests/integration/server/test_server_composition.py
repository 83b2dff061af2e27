"""Python-native composition on the server: a registered task that calls tasks runs them
as child nodes on the server's worker processes (SQLite and PostgreSQL)."""

from __future__ import annotations

import sys
import textwrap
import uuid
from typing import Any

import pytest

pytestmark = [pytest.mark.integration, pytest.mark.slow]

CODE = textwrap.dedent(
    """
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
