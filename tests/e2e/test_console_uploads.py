"""The launch form uploads what the CLI takes (headless Chromium, a real ``airfoil server
start``): a DataFrame input from a ``.csv`` file (stored as the CLI stores it: read with the
input's library, kept as Parquet, the same hash), a ``list[File]`` input from several files,
and a ``File`` of any type (here binary bytes); bad choices are refused with what to do."""

from __future__ import annotations

import hashlib
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

playwright_api = pytest.importorskip("playwright.sync_api")

from _serve import Server, served  # noqa: E402
from test_console import browser, page, shot  # noqa: E402, F401

FLOW = textwrap.dedent(
    """
    import numpy as np
    import pandas as pd

    import airfoil as af


    @af.task
    def describe(
        table: pd.DataFrame, notes: list[af.File], blob: af.File, arr: np.ndarray
    ) -> str:
        sizes = [len(open(f.path, "rb").read()) for f in notes]
        raw = open(blob.path, "rb").read()
        return (
            f"{len(table)} rows, value sum {table['value'].sum()}, "
            f"notes {sorted(f.name for f in notes)} sizes {sorted(sizes)}, "
            f"blob {blob.name} {raw[:4].hex()} {len(raw)}, "
            f"arr {arr.shape} sum {arr.sum()}"
        )


    @af.workflow
    def intake(table: pd.DataFrame, notes: list[af.File], blob: af.File, arr: np.ndarray) -> str:
        return describe(table=table, notes=notes, blob=blob, arr=arr)
    """
)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    with served(tmp_path_factory, "console-uploads", FLOW, register=True) as srv:
        yield srv


def _cli_value_hash(path: Path, annotation: Any) -> str:
    """The hash ``airfoil run --x PATH`` gives an input of type ``annotation``."""
    from airfoil.store.blob import LocalBlobStore
    from airfoil.types import ValueContext, default_type_engine

    engine = default_type_engine()
    obj = engine.parse_cli(str(path), annotation)
    blobs = LocalBlobStore(str(path.parent / "blobs"))
    return str(engine.to_value(obj, annotation, ValueContext(blobs)).hash)


def test_launch_with_csv_dataframe_several_files_and_any_file(
    server: Server,
    page: Any,  # noqa: F811
    tmp_path: Path,
) -> None:
    csv = tmp_path / "table.csv"
    csv.write_text("item,value\na,1.5\nb,2.5\nc,3.0\nd,4.0\n")
    notes = [tmp_path / "one.txt", tmp_path / "two.md"]
    notes[0].write_text("first note")
    notes[1].write_text("the second, longer note")
    blob = tmp_path / "image.png"
    blob.write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(range(256)))
    import numpy as np
    import pandas as pd

    arr = tmp_path / "grid.npy"
    np.save(arr, np.arange(6, dtype=np.int64).reshape(2, 3))
    page.goto(f"{server.url}/projects/default/entities/flow.intake")
    page.wait_for_selector("form.launch")
    assert page.locator("#in-notes[type=file][multiple]").count() == 1
    assert ".csv" in (page.get_attribute("#in-table", "accept") or "")
    assert page.get_attribute("#in-blob", "accept") is None  # a File takes any type

    # nothing chosen, then a file that is neither Parquet nor CSV: refused on the page
    page.get_by_role("button", name="Launch").click()
    assert "choose a file (one or more)" in page.inner_text("[data-input=notes] .field-error")
    page.set_input_files("#in-table", str(blob))
    page.set_input_files("#in-notes", [str(n) for n in notes])
    page.set_input_files("#in-blob", str(blob))
    page.set_input_files("#in-arr", str(blob))
    page.get_by_role("button", name="Launch").click()
    page.wait_for_selector("[data-input=table] .field-error")
    assert "neither a Parquet file nor a .csv file" in page.inner_text(
        "[data-input=table] .field-error"
    )
    page.set_input_files("#in-table", str(csv))
    page.get_by_role("button", name="Launch").click()
    page.wait_for_selector("[data-input=arr] .field-error")
    assert "is not a .npy file" in page.inner_text("[data-input=arr] .field-error")
    assert "2 files" in page.inner_text("[data-input=notes]")

    page.set_input_files("#in-arr", str(arr))
    shot(page, "32-upload-csv-and-files")
    page.get_by_role("button", name="Launch").click()
    page.wait_for_url("**/executions/*")
    execution = page.url.rsplit("/", 1)[1].split("?")[0]
    page.wait_for_selector("h1 .phase[data-phase=succeeded]", timeout=60_000)
    out = httpx.get(f"{server.url}/api/v1/projects/default/executions/{execution}").json()
    assert out["outputs"][0]["preview"] == (
        "4 rows, value sum 11.0, notes ['one.txt', 'two.md'] sizes [10, 23], "
        f"blob image.png 89504e47 {8 + 256}, arr (2, 3) sum 15"
    )
    by_name = {v["name"]: v for v in out["inputs"]}
    # the CSV was stored as the CLI stores it: Arrow IPC, the same hash, so the same cache keys
    assert by_name["table"]["format"] == "arrow"
    assert by_name["table"]["hash"] == _cli_value_hash(csv, pd.DataFrame)
    assert by_name["arr"]["hash"] == _cli_value_hash(arr, np.ndarray)
    node = httpx.get(f"{server.url}/api/v1/projects/default/executions/{execution}/nodes/n0")
    shown = {v["name"]: v for v in node.json()["inputs"]}
    assert shown["arr"]["preview"]["dtype"] == "int64"  # read from the .npy header
    assert shown["arr"]["preview"]["shape"] == [2, 3]
    assert by_name["blob"]["format"] == "file"
    assert by_name["blob"]["size"] == 8 + 256
    from airfoil.types._files import file_value_hash

    content = hashlib.sha256(blob.read_bytes()).hexdigest()
    assert by_name["blob"]["hash"] == file_value_hash("image.png", content)
    shot(page, "33-uploaded-csv-and-files-ran")


def test_the_api_refuses_a_bad_csv_and_a_bad_list(server: Server, tmp_path: Path) -> None:
    base = f"{server.url}/api/v1/projects/default"
    good = b"item,value\na,1\n"
    sha = hashlib.sha256(good).hexdigest()
    assert httpx.put(f"{base}/uploads/{sha}", content=good).status_code < 300

    def launch(inputs: dict[str, Any]) -> httpx.Response:
        return httpx.post(
            f"{base}/domains/development/executions",
            json={"entity": "flow.intake", "inputs": inputs},
        )

    csv_ref = {
        "$airfoil": {"format": "csv", "hash": sha, "size": len(good), "sha256": sha, "meta": {}}
    }
    wrong = dict(csv_ref["$airfoil"], hash="0" * 64)
    r = launch({"table": {"$airfoil": wrong}, "notes": [], "blob": csv_ref})
    assert r.status_code == 422 and "CSV bytes do not match" in r.text, r.text
    r = launch({"table": csv_ref, "notes": "one.txt", "blob": csv_ref})
    assert r.status_code == 422 and "JSON array of upload references" in r.text, r.text
    r = launch({"table": csv_ref, "notes": [{"not": "a reference"}], "blob": csv_ref})
    assert r.status_code == 422 and "notes[0]" in r.text, r.text
    # an array of Python objects would be unpickled: refused
    import io

    import numpy as np

    buf = io.BytesIO()
    np.save(buf, np.array([{"a": 1}], dtype=object), allow_pickle=True)
    objects = buf.getvalue()
    osha = hashlib.sha256(objects).hexdigest()
    assert httpx.put(f"{base}/uploads/{osha}", content=objects).status_code < 300
    npy = {"format": "npy", "hash": osha, "size": len(objects), "sha256": osha, "meta": {}}
    from airfoil.types._files import file_value_hash

    file_meta = {"name": "t.csv", "sha256": sha}
    file_ref = {
        "$airfoil": {
            "format": "file",
            "hash": file_value_hash("t.csv", sha),
            "size": len(good),
            "sha256": sha,
            "meta": file_meta,
        }
    }
    r = launch({"table": csv_ref, "notes": [], "blob": file_ref, "arr": {"$airfoil": npy}})
    assert r.status_code == 422 and "array of Python objects" in r.text, r.text
