"""A flytekit-style program (``airfoil.compat.flytekit``) registered with and run on a real
server (SQLite and PostgreSQL, process workers): tuple outputs and FlyteFiles come back typed."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.integration

PROGRAM = """
import os
from dataclasses import dataclass
import tempfile
import typing

from airfoil.compat.flytekit import task, workflow
from airfoil.compat.flytekit.types.file import FlyteFile


@task
def split(text: str) -> typing.Tuple[int, FlyteFile]:
    path = os.path.join(tempfile.mkdtemp(), "words.txt")
    with open(path, "w") as f:
        f.write("\\n".join(text.split()))
    return len(text.split()), FlyteFile(path)


@task
def first_word(f: FlyteFile) -> str:
    with open(f) as fh:
        return fh.readline().strip()


@workflow
def fk_wf(text: str) -> typing.Tuple[int, str]:
    n, f = split(text=text)
    return n, first_word(f=f)


@dataclass
class Stats:
    words: typing.List[str]
    counts: typing.Dict[str, int]


@task
def stats(text: str) -> Stats:
    words = text.split()
    return Stats(words=words, counts={w: len(w) for w in words})


@task
def describe(word: str, n: int) -> str:
    return f"{word}:{n}"


@workflow
def attr_wf(text: str) -> str:
    s = stats(text=text)
    return describe(word=s.words[1], n=s.counts["typed"])
"""


@pytest.fixture(scope="module")
def fkflow(tmp_path_factory: pytest.TempPathFactory) -> Any:
    from airfoil.cli._load import load_entity

    root = tmp_path_factory.mktemp("fkproj")
    (root / "fkflow.py").write_text(PROGRAM)
    load_entity(str(root / "fkflow.py"), "fk_wf")
    return sys.modules["fkflow"]


def test_tuple_outputs_and_files_over_the_server(client: Any, fkflow: Any) -> None:
    client.register([fkflow.fk_wf])
    ex = client.launch(fkflow.fk_wf, {"text": "durable typed pipelines"})
    detail = client.wait(ex.id, timeout=120)
    assert detail.phase == "succeeded", detail.error
    assert client.outputs(ex.id, fkflow.fk_wf) == (3, "durable")


def test_tuple_outputs_come_back_as_the_named_tuple(client: Any, fkflow: Any) -> None:
    client.register([fkflow.split])
    ex = client.launch(fkflow.split, {"text": "a b"})
    assert client.wait(ex.id, timeout=120).phase == "succeeded"
    out = client.outputs(ex.id, fkflow.split)
    assert type(out).__name__ == "DefaultNamedTupleOutput"
    n, f = out
    assert n == 2 and out.o0 == 2
    assert Path(f.path).read_text() == "a\nb"
    assert type(f).__name__ == "FlyteFile"


def test_attribute_access_runs_on_the_server(client: Any, fkflow: Any) -> None:
    # The select nodes' tasks are found by the server's workers from the registered package.
    client.register([fkflow.attr_wf])
    ex = client.launch(fkflow.attr_wf, {"text": "durable typed pipelines"})
    detail = client.wait(ex.id, timeout=120)
    assert detail.phase == "succeeded", detail.error
    assert client.outputs(ex.id, fkflow.attr_wf) == "typed:5"
