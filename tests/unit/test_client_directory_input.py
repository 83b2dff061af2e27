"""A local Directory given as a launch input over the API: the server takes no directory
upload yet, so the client says so, typed and naming the fix, before any request (it raised
a bare ``NotImplementedError: directories are not downloaded by the client``)."""

from __future__ import annotations

from pathlib import Path

import pytest

import airfoil as af
from airfoil.client import Client
from airfoil.core.errors import InvalidInputError


@pytest.mark.parametrize("nested", [False, True])
def test_a_directory_launch_input_is_an_invalid_input_naming_the_fix(
    tmp_path: Path, nested: bool
) -> None:
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "a.txt").write_text("a")
    folder = af.Directory(str(tmp_path / "data"))
    value, annotation = ([folder], list[af.Directory]) if nested else (folder, af.Directory)
    with (  # port 9: nothing listens, so a request would fail otherwise
        Client("http://127.0.0.1:9") as client,
        pytest.raises(InvalidInputError) as info,
    ):
        client.upload_value(value, py_type=annotation)
    message = str(info.value)
    assert "over the API" in message and "data" in message
    assert "send a File (an archive of it" in message
