"""A Directory's hash covers what a store keeps of it: the files under linked folders (which
every store copies), never the store's own completion marker; what cannot be stored whole (a
broken link, a loop, a pipe, a file named as the marker) is refused by name at the call.

Before 2026-12-07 a folder reached through a symbolic link was copied into the store but left
out of the hash: a run reading it back failed as a corrupt blob ("rerun the task that
produced it"), and a cached task kept its hit after a file under the link was edited; a
broken link was a bare FileNotFoundError, a link loop a StoreError hundreds of path parts
long, a pipe hung the hash; a file named ``.airfoil-complete`` failed every read as corrupt.
"""

from __future__ import annotations

import os
import uuid
from pathlib import Path

import pytest

import airfoil as af
from airfoil.store.blob import FsspecBlobStore
from airfoil.types import ConversionError, Directory, TypeEngine, ValueContext


def _linked_tree(tmp_path: Path) -> tuple[Path, Path]:
    """``data/`` holding ``a.txt`` and ``shared`` -> ``outside/`` (which holds ``x.txt``)."""
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "x.txt").write_text("v1")
    root = tmp_path / "data"
    root.mkdir()
    (root / "a.txt").write_text("a")
    (root / "shared").symlink_to(outside, target_is_directory=True)
    return root, outside


def test_a_linked_folders_files_are_in_the_listing_and_the_hash(
    engine: TypeEngine, ctx: ValueContext, tmp_path: Path
) -> None:
    root, outside = _linked_tree(tmp_path)
    assert Directory(root).listing() == ["a.txt", "shared/x.txt"]
    stored = engine.to_value(Directory(root), Directory, ctx)
    back = engine.to_python(stored, Directory, ctx)
    assert back.listing() == ["a.txt", "shared/x.txt"]
    assert back.file("shared/x.txt").read_text() == "v1"
    (outside / "x.txt").write_text("v2")
    assert engine.to_value(Directory(root), Directory, ctx).hash != stored.hash


def test_a_linked_folder_round_trips_through_an_object_store(
    engine: TypeEngine, tmp_path: Path
) -> None:
    root, _ = _linked_tree(tmp_path)
    remote = FsspecBlobStore(f"memory://airfoil-test-{uuid.uuid4().hex}")
    ctx = ValueContext(remote, scratch_dir=str(tmp_path / "scratch"))
    back = engine.to_python(engine.to_value(Directory(root), Directory, ctx), Directory, ctx)
    assert back.file("shared/x.txt").read_text() == "v1"


@pytest.mark.parametrize(
    ("build", "named", "says"),
    [
        (lambda r: (r / "dead").symlink_to(r.parent / "nope"), "dead", "does not exist"),
        (lambda r: (r / "self").symlink_to(r, target_is_directory=True), "self", "a loop"),
        (lambda r: os.mkfifo(r / "pipe"), "pipe", "not a regular file"),
        (lambda r: (r / ".airfoil-complete").write_text("mine"), ".airfoil-complete", "rename"),
    ],
    ids=["broken-link", "loop", "pipe", "marker-name"],
)
def test_a_tree_that_cannot_be_stored_whole_is_refused_by_name(
    engine: TypeEngine, ctx: ValueContext, tmp_path: Path, build: object, named: str, says: str
) -> None:
    root = tmp_path / "data"
    root.mkdir()
    (root / "a.txt").write_text("a")
    build(root)  # type: ignore[operator]
    with pytest.raises(ConversionError, match=says) as info:
        engine.to_value(Directory(root), Directory, ctx)
    assert repr(named) in str(info.value)


def test_a_file_named_as_the_marker_below_the_top_is_the_users(
    engine: TypeEngine, ctx: ValueContext, tmp_path: Path
) -> None:
    root = tmp_path / "data"
    (root / "sub").mkdir(parents=True)
    (root / "sub" / ".airfoil-complete").write_text("mine")
    back = engine.to_python(engine.to_value(Directory(root), Directory, ctx), Directory, ctx)
    assert back.file("sub/.airfoil-complete").read_text() == "mine"


@af.task(cache=True, cache_version="1")
def _joined(d: Directory) -> str:
    return "|".join(f.read_text() for f in d.files())


@af.workflow
def _joined_wf(d: Directory) -> str:
    return _joined(d=d)


def test_a_cached_task_misses_after_an_edit_under_a_linked_folder(tmp_path: Path) -> None:
    root, outside = _linked_tree(tmp_path)
    assert _joined_wf(d=Directory(root)) == "a|v1"
    (outside / "x.txt").write_text("v2")
    assert _joined_wf(d=Directory(root)) == "a|v2"
