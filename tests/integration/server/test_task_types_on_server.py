"""On a real server (SQLite and PostgreSQL, process workers): shell and SQL tasks run and the
API names each node's task type; an enum input sent as JSON is accepted by its member's value
(``"latte"``) as well as its name (``"LATTE"``), as on the CLI."""

from __future__ import annotations

import sys
from typing import Any

import httpx
import pytest

pytestmark = pytest.mark.integration

PROGRAM = """
import enum

import pandas as pd

import airfoil as af


class Coffee(enum.Enum):
    ESPRESSO = "espresso"
    LATTE = "latte"
    FLAT_WHITE = "flat white"


@af.task
def order(kind: Coffee, shots: int = 1) -> str:
    return f"{kind.name}x{shots}"


shout = af.shell_task(
    "shout",
    "printf '%s!' {inputs.word} | tr a-z A-Z > {outputs.loud}",
    inputs={"word": str},
    outputs={"loud": str},
)
pick = af.sql_task(
    "pick",
    "SELECT name FROM {inputs.menu} WHERE price <= {inputs.budget} ORDER BY name",
    inputs={"menu": pd.DataFrame, "budget": float},
)


@af.task
def menu() -> pd.DataFrame:
    return pd.DataFrame({"name": ["latte", "mocha", "tea"], "price": [3.5, 4.5, 2.0]})


@af.task
def join(loud: str, names: pd.DataFrame) -> str:
    return loud + " " + ",".join(names["name"])


@af.workflow
def cafe(word: str = "hello", budget: float = 3.5) -> str:
    return join(loud=shout(word=word), names=pick(menu=menu(), budget=budget))
"""


@pytest.fixture(scope="module")
def cafeflow(tmp_path_factory: pytest.TempPathFactory) -> Any:
    from airfoil.cli._load import load_entity

    root = tmp_path_factory.mktemp("cafeproj")
    (root / "cafeflow.py").write_text(PROGRAM)
    load_entity(str(root / "cafeflow.py"), "cafe")
    return sys.modules["cafeflow"]


def _launch(client: Any, entity: str, inputs: dict[str, Any]) -> httpx.Response:
    return httpx.post(
        f"{client.url}/api/v1/projects/{client.project}/domains/{client.domain}/executions",
        json={"entity": entity, "inputs": inputs},
        timeout=30,
    )


def test_enum_inputs_take_a_members_value_or_name_over_the_api(client: Any, cafeflow: Any) -> None:
    client.register([cafeflow.order])
    for given, expected in (("latte", "LATTE"), ("LATTE", "LATTE"), ("flat white", "FLAT_WHITE")):
        r = _launch(client, "cafeflow.order", {"kind": given, "shots": 2})
        assert r.status_code == 201, r.text
        execution_id = r.json()["id"]
        assert client.wait(execution_id, timeout=120).phase == "succeeded"
        assert client.outputs(execution_id, cafeflow.order) == f"{expected}x2"
    bad = _launch(client, "cafeflow.order", {"kind": "mocha"})
    assert bad.status_code == 422
    message = bad.json()["error"]["message"]
    assert "ESPRESSO, LATTE, FLAT_WHITE" in message and "espresso, latte, flat white" in message


def test_shell_and_sql_tasks_run_on_the_server_and_show_their_type(
    client: Any, cafeflow: Any
) -> None:
    client.register([cafeflow.cafe])
    ex = client.launch(cafeflow.cafe, {"word": "o'hi", "budget": 3.5})
    detail = client.wait(ex.id, timeout=120)
    assert detail.phase == "succeeded", detail.error
    assert client.outputs(ex.id, cafeflow.cafe) == "O'HI! latte,tea"
    types = {n.task.rsplit(".", 1)[-1]: n.task_type for n in detail.nodes}
    assert types == {"shout": "shell", "menu": "python", "pick": "sql", "join": "python"}
    shell_node = next(n for n in detail.nodes if n.task.endswith("shout"))
    one = httpx.get(
        f"{client.url}/api/v1/projects/{client.project}/executions/{ex.id}/nodes/{shell_node.id}",
        timeout=30,
    )
    assert one.status_code == 200 and one.json()["task_type"] == "shell"
