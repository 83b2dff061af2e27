"""The worker's check that no output carries a secret's value (as stored: inline or a blob)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from airfoil.core.errors import SecretOutputError
from airfoil.core.records import Value
from airfoil.runtime._secret_outputs import refuse_secret_outputs
from airfoil.store.blob import LocalBlobStore

SECRET = 'p@ss"wörd-42'


def _inline(data: bytes) -> Value:
    return Value(hash="h", format="json", inline=data, size=len(data))


def test_a_secret_in_an_inline_output_is_refused_by_name_never_by_value(tmp_path: Path) -> None:
    blobs = LocalBlobStore(str(tmp_path))
    out = {"o0": _inline(json.dumps({"auth": "Bearer " + SECRET}).encode())}  # JSON-escaped
    with pytest.raises(SecretOutputError) as err:
        refuse_secret_outputs(out, {"token": SECRET}, blobs, "flow.t")
    assert "output 'o0' of task flow.t holds the value of secret 'token'" in str(err.value)
    assert SECRET not in str(err.value)


def test_an_offloaded_output_holding_a_secret_is_refused_and_its_blob_deleted(
    tmp_path: Path,
) -> None:
    blobs = LocalBlobStore(str(tmp_path))
    keep = blobs.put_bytes("values/aa/other", b"harmless")
    uri = blobs.put_bytes("values/bb/leak", b"x" * 1000 + SECRET.encode() + b"y" * 1000)
    outputs = {
        "o0": Value(hash="a", format="pickle", uri=keep, size=8),
        "o1": Value(hash="b", format="pickle", uri=uri, size=2000 + len(SECRET.encode())),
    }
    with pytest.raises(SecretOutputError, match="output 'o1'"):
        refuse_secret_outputs(outputs, {"token": SECRET}, blobs, "flow.t")
    assert not blobs.exists(uri) and blobs.exists(keep)


def test_outputs_without_secrets_and_very_short_secrets_pass(tmp_path: Path) -> None:
    blobs = LocalBlobStore(str(tmp_path))
    out = {"o0": _inline(b'"an ordinary value"')}
    refuse_secret_outputs(out, {"token": SECRET, "pin": "an"}, blobs, "flow.t")
    refuse_secret_outputs(out, {}, blobs, "flow.t")
