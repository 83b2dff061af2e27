"""Error kinds and gate kinds are enums in the records (stored by value: a database written
before reads the same, and what is written now reads the same in older code)."""

from __future__ import annotations

import msgspec
import pytest

import airfoil as af
from airfoil.core.phases import ErrorKind, GateKind
from airfoil.core.records import ErrorInfo, GateSpec, WorkflowSpec, decode_json, encode_json

pytestmark = pytest.mark.unit


def test_an_error_kind_is_stored_by_value_and_read_back_as_the_enum() -> None:
    err = ErrorInfo(kind=ErrorKind.SYSTEM, type="WorkerLostError", message="lost")
    raw = encode_json(err)
    assert b'"kind":"system"' in raw
    # A record written before the enum (a plain string) reads as the enum, and equal.
    old = b'{"kind":"user","type":"ValueError","message":"boom"}'
    back = decode_json(old, ErrorInfo)
    assert back.kind is ErrorKind.USER
    assert back == ErrorInfo(kind=ErrorKind.USER, type="ValueError", message="boom")


def test_a_gate_kind_is_an_enum_in_the_spec_and_the_version_is_unchanged() -> None:
    @af.task
    def inc(x: int) -> int:
        return x + 1

    @af.workflow
    def waits(x: int = 1) -> int:
        af.sleep(5)
        return af.approve(inc(x=x), "ship", timeout=60)  # type: ignore[no-any-return]

    gates = [n.gate for n in waits.spec.nodes if n.gate is not None]
    assert [g.kind for g in gates] == [GateKind.SLEEP, GateKind.APPROVE]
    decoded = decode_json(encode_json(waits.spec), WorkflowSpec)
    assert [n.gate.kind for n in decoded.nodes if n.gate is not None] == [
        GateKind.SLEEP,
        GateKind.APPROVE,
    ]
    assert b'"kind":"sleep"' in encode_json(GateSpec(kind=GateKind.SLEEP, duration_s=1.0))


@pytest.mark.parametrize(
    ("raw", "target", "value"),
    [
        (b'{"kind":"oops","type":"T","message":"m"}', ErrorInfo, "oops"),
        (b'{"kind":"nap","duration_s":1}', GateSpec, "nap"),
    ],
)
def test_an_unknown_kind_is_refused_naming_the_value_and_the_field(
    raw: bytes, target: type, value: str
) -> None:
    with pytest.raises(
        msgspec.ValidationError, match=rf"Invalid enum value '{value}' - at `\$\.kind`"
    ):
        decode_json(raw, target)
