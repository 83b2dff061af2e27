"""``decode_version`` reads a version an older Airfoil stored with metrics that are not
finite numbers (before ``check_draft`` refused them), and nothing else it should not."""

from __future__ import annotations

import json

import msgspec
import pytest

from airfoil.core.records import encode_json
from airfoil.store.artifacts import ArtifactVersion, decode_version
from airfoil.testing.artifact_conformance import make_draft

pytestmark = pytest.mark.unit


def _stored(metrics_json: str) -> str:
    good = encode_json(ArtifactVersion.from_draft(make_draft(), 1, 10.0)).decode()
    return good.replace('"metrics":{"accuracy":0.97}', f'"metrics":{metrics_json}')


def test_a_current_record_reads_as_written() -> None:
    v = ArtifactVersion.from_draft(make_draft(), 1, 10.0)
    assert decode_version(encode_json(v)) == v
    assert v.invalid_metrics == {}


def test_old_metrics_that_are_not_numbers_are_kept_as_text() -> None:
    record = _stored(
        '{"accuracy":0.97,"a":NaN,"b":Infinity,"c":-Infinity,"d":null,"e":"high","f":true}'
    )
    with pytest.raises(msgspec.DecodeError):  # what main raised on every read of the name
        msgspec.json.decode(record, type=ArtifactVersion)
    v = decode_version(record)
    assert v.metrics == {"accuracy": 0.97}
    assert v.invalid_metrics == {
        "a": "NaN",
        "b": "inf",
        "c": "-inf",
        "d": "null",
        "e": '"high"',
        "f": "true",
    }
    assert (v.name, v.version, v.lineage["dataset_hash"]) == ("digits", 1, "d1")


def test_a_record_damaged_otherwise_still_raises() -> None:
    data = json.loads(_stored('{"a":null}'))
    data["version"] = "one"  # not the metrics: the strict decoder's error stands
    with pytest.raises(msgspec.ValidationError, match="version"):
        decode_version(json.dumps(data))
    with pytest.raises(msgspec.DecodeError):
        decode_version("{not json")
