"""``Iterator[T]`` outputs (stored as ``list[T]``) and File / Directory / DataFrame fields
inside pydantic models (written by the type engine, not pydantic)."""

from __future__ import annotations

import typing
from collections.abc import Generator, Iterable, Iterator
from pathlib import Path

import pandas as pd
import pydantic
import pytest

import airfoil as af
from airfoil.core.errors import TypeTransformError
from airfoil.types import Directory, File, TypeEngine, ValueContext

pytestmark = pytest.mark.unit


class Bundle(pydantic.BaseModel):
    model_config = pydantic.ConfigDict(arbitrary_types_allowed=True)

    name: str
    doc: File
    frame: pd.DataFrame
    more: list[File] = []
    folder: Directory | None = None


@pytest.mark.parametrize("tp", [Iterator[int], Iterable[int], Generator[int, None, None]])
def test_iterators_are_lists_of_their_items(
    engine: TypeEngine, ctx: ValueContext, tp: typing.Any
) -> None:
    assert str(engine.to_spec(tp)) == "list[int]"
    value = engine.to_value((i * i for i in range(4)), tp, ctx)
    assert value.hash == engine.to_value([0, 1, 4, 9], list[int], ctx).hash
    back = engine.to_python(value, tp, ctx)
    assert not isinstance(back, list) and list(back) == [0, 1, 4, 9]
    assert engine.is_assignable(engine.to_spec(tp), engine.to_spec(list[int]))
    with pytest.raises(TypeTransformError, match="an iterable for list"):
        engine.to_value("abc", tp, ctx)


def test_files_and_frames_inside_a_pydantic_model(
    engine: TypeEngine, ctx: ValueContext, tmp_path: Path
) -> None:
    doc = tmp_path / "doc.txt"
    doc.write_text("hello")
    folder = tmp_path / "folder"
    folder.mkdir()
    (folder / "a.txt").write_text("a")
    b = Bundle(
        name="b",
        doc=File(str(doc)),
        frame=pd.DataFrame({"x": [1, 2]}),
        more=[File(str(doc))],
        folder=Directory(str(folder)),
    )
    spec = engine.to_spec(Bundle)
    assert dict(spec.fields)["doc"].kind == "file"
    value = engine.to_value(b, Bundle, ctx)
    doc.write_text("changed")  # the stored copy is the one read back
    back = engine.to_python(value, Bundle, ctx)
    assert isinstance(back, Bundle) and back.name == "b"
    assert Path(back.doc.path).read_text() == "hello"
    assert Path(back.more[0].path).read_text() == "hello"
    assert back.frame["x"].tolist() == [1, 2]
    assert back.folder is not None and (Path(back.folder.path) / "a.txt").read_text() == "a"
    again = engine.to_value(back, Bundle, ctx)
    assert again.hash == value.hash


@af.task
def squares(n: int) -> Iterator[int]:
    for i in range(n):
        yield i * i


@af.task
def total(xs: list[int]) -> int:
    return sum(xs)


@af.workflow
def summed(n: int = 4) -> int:
    return total(xs=squares(n=n))


def test_a_generator_task_feeds_a_list_input() -> None:
    assert summed(n=4) == 14
    assert list(squares(n=3)) == [0, 1, 4]


class Note(pydantic.BaseModel):  # no arbitrary_types_allowed: File has a pydantic schema
    doc: File
    folders: list[Directory] = []


def test_file_fields_need_no_arbitrary_types(
    engine: TypeEngine, ctx: ValueContext, tmp_path: Path
) -> None:
    doc = tmp_path / "n.txt"
    doc.write_text("note")
    note = Note(doc=str(doc))  # type: ignore[arg-type]  # a path is made a File
    assert isinstance(note.doc, File)
    assert note.model_dump(mode="json") == {"doc": str(doc), "folders": []}
    back = engine.to_python(engine.to_value(note, Note, ctx), Note, ctx)
    assert Path(back.doc.path).read_text() == "note"
    with pytest.raises(pydantic.ValidationError, match="expected a File or a path"):
        Note(doc=3)  # type: ignore[arg-type]
