"""One value-reference codec (``{"$airfoil": {...}}``): what the type engine writes inside
containers, what the client sends for uploaded launch inputs and what the server reads are
one form, written and parsed by :class:`airfoil.types.ValueRef` alone."""

from __future__ import annotations

import base64
import hashlib
import io
import json
from pathlib import Path

import msgspec
import numpy as np
import pytest

from airfoil.core.errors import InvalidInputError
from airfoil.core.records import TypeSpec, Value
from airfoil.store.blob import open_blob_store
from airfoil.types import ConversionError, ValueContext, ValueRef, ValueRefError
from airfoil.types._base import ref_to_value, value_to_ref
from airfoil.types._refs import travels_as_reference

pytestmark = pytest.mark.unit


def test_a_reference_round_trips_through_json_text() -> None:
    ref = ValueRef("npy", "ab" * 32, 12, {"shape": "[3]"}, b"\x93NUMPY", "cd" * 32, "other")
    text = json.dumps(ref.to_json())
    assert json.loads(text)["$airfoil"]["inline"] == base64.b64encode(b"\x93NUMPY").decode()
    assert ValueRef.from_json(json.loads(text)) == ref


def test_inside_containers_the_bytes_stay_bytes_and_the_json_text_is_the_same() -> None:
    """The type engine hashes containers with msgspec, which writes bytes as base64: the
    stored form (and so every container hash) is what the JSON-text form reads as."""
    value = Value(hash="ab" * 32, format="npy", inline=b"\x93NUMPY", size=6, meta={"repr": "x"})
    as_bytes = value_to_ref(value)
    assert as_bytes == {
        "$airfoil": {"format": "npy", "hash": "ab" * 32, "size": 6, "inline": b"\x93NUMPY"}
    }
    text = ValueRef.of_value(value).to_json()
    assert msgspec.json.encode(as_bytes) == msgspec.json.encode(text)
    assert ref_to_value(json.loads(msgspec.json.encode(as_bytes)), None) == Value(
        hash="ab" * 32, format="npy", inline=b"\x93NUMPY", size=6
    )


def test_an_offloaded_reference_names_the_blob_by_hash_in_the_given_store(tmp_path: Path) -> None:
    blobs = open_blob_store(str(tmp_path))
    ref = {"$airfoil": {"format": "parquet", "hash": "ef" * 32, "size": 9}}
    value = ref_to_value(ref, ValueContext(blobs=blobs))
    assert value.uri == blobs.uri(f"values/ef/{'ef' * 32}") and value.inline is None
    with pytest.raises(ConversionError, match="needs a blob store"):
        ref_to_value(ref, None)


@pytest.mark.parametrize(
    ("data", "why"),
    [
        (3, "not a value reference"),
        ({"$airfoil": "x"}, "not a value reference"),
        ({"$airfoil": {"hash": "a"}}, "missing 'format'"),
        ({"$airfoil": {"format": 1, "hash": "a"}}, "must be strings"),
        ({"$airfoil": {"format": "npy", "hash": "a", "size": "big"}}, "invalid literal"),
        ({"$airfoil": {"format": "npy", "hash": "a", "meta": []}}, "meta must be an object"),
        ({"$airfoil": {"format": "npy", "hash": "a", "inline": "%%%"}}, "not base64"),
    ],
)
def test_a_malformed_reference_is_a_typed_error_saying_what_is_wrong(
    data: object, why: str
) -> None:
    with pytest.raises(ValueRefError, match=why):
        ValueRef.from_json(data)
    with pytest.raises(ConversionError, match="malformed value reference"):
        ref_to_value(data, None)


def test_the_server_reads_what_the_client_writes_and_names_the_input_on_bad_ones(
    tmp_path: Path,
) -> None:
    from airfoil.server._uploads import store_upload, uploaded_value

    blobs = open_blob_store(str(tmp_path))
    buf = io.BytesIO()
    np.save(buf, np.arange(3, dtype="u1"))
    data = buf.getvalue()
    sha = hashlib.sha256(data).hexdigest()
    store_upload(blobs, "alpha", sha, data)
    meta = {"dtype": "u1", "shape": "[3]"}
    value = Value(hash=sha, format="npy", uri="local-only", size=len(data), meta=meta)
    sent = json.loads(json.dumps(ValueRef.of_value(value, sha256=sha).to_json()))  # the client's
    got = uploaded_value(blobs, "alpha", "arr", TypeSpec("ndarray"), sent)
    assert (got.hash, got.format, got.size, got.meta) == (sha, "npy", len(data), meta)
    assert blobs.get_bytes(got.uri or "") == data
    small = ValueRef.of_value(Value(hash=sha, format="npy", inline=data, size=len(data)))
    assert (
        uploaded_value(blobs, "alpha", "arr", TypeSpec("ndarray"), small.to_json()).inline == data
    )
    with pytest.raises(InvalidInputError, match="input 'arr': a reference needs format"):
        uploaded_value(blobs, "alpha", "arr", TypeSpec("ndarray"), {"$airfoil": {"size": 1}})
    with pytest.raises(InvalidInputError, match="input 'arr': inline is not base64"):
        bad = {"$airfoil": {"format": "npy", "hash": sha, "inline": "%%"}}
        uploaded_value(blobs, "alpha", "arr", TypeSpec("ndarray"), bad)


def test_which_inputs_travel_as_references() -> None:
    for kind in ("file", "directory", "dataframe", "ndarray", "money"):
        assert travels_as_reference(TypeSpec(kind)), kind
    for kind in ("int", "str", "list", "dict", "dataclass", "enum", "datetime"):
        assert not travels_as_reference(TypeSpec(kind)), kind


def test_the_apis_raw_values_round_trip_through_the_same_codec() -> None:
    """What the server answers for an output (``RawValue``) is what the client reads back."""
    from airfoil.client._values import DownloadedBlobs, to_value
    from airfoil.core.records import ExecutionRecord, Interface, WorkflowSpec
    from airfoil.server._convert import raw_value

    spec = WorkflowSpec("wf", "v", Interface(), (), {})
    rec = ExecutionRecord("e1", "wf", "v", "succeeded", spec, {}, 0.0)
    small = Value(hash="ab" * 32, format="json", inline=b"[1, 2]", size=6, meta={"repr": "[1, 2]"})
    blobs = DownloadedBlobs()
    assert to_value(raw_value(rec, small), None, blobs) == small  # previews kept in answers
    big = Value(hash="cd" * 32, format="npy", uri="file:///x", size=3, meta={"dtype": "u1"})
    raw = raw_value(rec, big)
    assert raw.inline is None and raw.download is not None
    back = to_value(raw, b"abc", blobs)
    assert (back.hash, back.format, back.size, back.meta) == (big.hash, "npy", 3, big.meta)
    assert blobs.get_bytes(back.uri or "") == b"abc"
    with pytest.raises(ValueRefError, match="not base64"):
        to_value(raw.model_copy(update={"inline": "%%"}), None, blobs)


def test_an_optional_blob_reads_a_members_own_stored_value(
    tmp_path: Path, ctx: ValueContext
) -> None:
    # a workflow binds a File (its own 'file' value) to a task's Optional[File] input
    from typing import Optional

    from airfoil.types import File, TypeEngine

    engine = TypeEngine()
    (tmp_path / "a.txt").write_text("hi")
    stored = engine.handler(File).to_value(File(str(tmp_path / "a.txt")), ctx)
    read = engine.handler(Optional[File]).to_python(stored, ctx)  # noqa: UP045
    assert isinstance(read, File) and Path(read.path).read_text() == "hi"
    frame = engine.handler(np.ndarray).to_value(np.arange(3), ctx)
    assert engine.handler(Optional[np.ndarray]).to_python(frame, ctx).tolist() == [0, 1, 2]  # noqa: UP045
    with pytest.raises(Exception, match="cannot be read as"):
        engine.handler(Optional[int]).to_python(stored, ctx)  # noqa: UP045


@pytest.mark.parametrize("bad_name", ["../../escaped.txt", "/abs/escaped.txt", "..", "a\\b"])
def test_a_file_value_named_like_a_path_is_never_written_outside_the_scratch_folder(
    tmp_path: Path, bad_name: str
) -> None:
    """A file value's name comes from its record (an upload's reference names it): on main a
    worker reading ``name="../../escaped.txt"`` or an absolute path wrote the blob there."""
    import airfoil as af
    from airfoil.types import default_type_engine
    from airfoil.types._files import file_value_hash

    blobs = open_blob_store(str(tmp_path / "blobs"))
    data = b"not for outside the scratch folder"
    sha = hashlib.sha256(data).hexdigest()
    name = bad_name.replace("/abs/", f"{tmp_path}/")
    uri = blobs.put_bytes(f"values/{sha[:2]}/{sha}", data)
    value = Value(
        hash=file_value_hash(name, sha),
        format="file",
        uri=uri,
        size=len(data),
        meta={"name": name, "sha256": sha},
    )
    scratch = tmp_path / "work" / "scratch"
    scratch.mkdir(parents=True)
    ctx = ValueContext(blobs=blobs, scratch_dir=str(scratch))
    with pytest.raises(ConversionError, match="refused"):
        default_type_engine().to_python(value, af.File, ctx)
    written = [p for p in tmp_path.rglob("*escaped*")]
    assert written == []
    for kind, folder in (("file", af.File), ("directory", af.Directory)):
        dotted = Value(hash="cd" * 32, format=kind, uri=uri, meta={"name": ".."})
        with pytest.raises(ConversionError, match="not a file name"):
            default_type_engine().to_python(dotted, folder, ctx)
