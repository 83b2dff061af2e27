"""Pydantic models through pydantic's JSON mode: what it writes must read back as written.

Before 2026-12-07 a model with a field alias (``Field(alias="userId")``, pydantic's idiom for
camelCase data) was stored by field name and read back by alias, so every read failed ("Field
required"), and a launch input written with the field names the spec lists was refused; a
float field holding nan or ±inf was written as null (pydantic's JSON mode), so the next task
failed reading it, or, for an ``Optional[float]``, silently got None; bytes that are not UTF-8
were "invalid Blob: 'utf-8' codec can't decode byte 0xff", naming neither the field nor the
setting that stores them.
"""

from __future__ import annotations

import math

import pytest
from pydantic import BaseModel, ConfigDict, Field

from airfoil.types import ConversionError, TypeEngine, ValueContext


class Account(BaseModel):
    user_id: int = Field(alias="userId")
    display_name: str = Field(default="", validation_alias="displayName")
    parent: Account | None = None


class Named(BaseModel):
    model_config = ConfigDict(populate_by_name=True)
    user_id: int = Field(alias="userId")


def test_an_aliased_model_reads_back_as_written(engine: TypeEngine, ctx: ValueContext) -> None:
    account = Account(userId=1, displayName="Ada", parent=Account(userId=2))
    stored = engine.to_value(account, Account, ctx)
    assert engine.to_python(stored, Account, ctx) == account
    offloaded = ValueContext(ctx.blobs, scratch_dir=ctx.scratch(), offload_threshold=0)
    assert engine.to_python(engine.to_value(account, Account, offloaded), Account, ctx) == account


def test_an_aliased_model_takes_its_field_names_or_its_aliases_as_a_mapping(
    engine: TypeEngine, ctx: ValueContext
) -> None:
    by_name = engine.to_value({"user_id": 1, "parent": {"user_id": 2}}, Account, ctx)
    by_alias = engine.to_value({"userId": 1, "parent": {"userId": 2}}, Account, ctx)
    assert by_name.hash == by_alias.hash
    assert engine.to_python(by_name, Account, ctx) == Account(userId=1, parent=Account(userId=2))


def test_a_model_that_populates_by_name_keeps_its_hash(
    engine: TypeEngine, ctx: ValueContext
) -> None:
    # stored by field name as before: values cached before the change still hit
    assert engine.to_value(Named(userId=1), Named, ctx).inline == b'{"user_id":1}'


class Reading(BaseModel):
    value: float
    spare: float | None = None
    history: list[float] = []


@pytest.mark.parametrize(
    ("reading", "where", "what"),
    [
        (Reading(value=math.nan), "Reading.value", "nan"),
        (Reading(value=1.0, spare=math.inf), "Reading.spare", "inf"),
        (Reading(value=1.0, history=[0.5, -math.inf]), "Reading.history[1]", "-inf"),
    ],
    ids=["required", "optional", "in-a-list"],
)
def test_a_float_pydantic_writes_as_null_is_refused_by_name(
    engine: TypeEngine, ctx: ValueContext, reading: Reading, where: str, what: str
) -> None:
    with pytest.raises(ConversionError, match="dataclass") as info:
        engine.to_value(reading, Reading, ctx)
    assert where in str(info.value) and what in str(info.value)


def test_finite_floats_and_nones_in_a_model_are_stored_as_before(
    engine: TypeEngine, ctx: ValueContext
) -> None:
    reading = Reading(value=-0.0, spare=None, history=[1e308])
    stored = engine.to_value(reading, Reading, ctx)
    assert stored.inline == b'{"value":-0.0,"spare":null,"history":[1e308]}'
    assert engine.to_python(stored, Reading, ctx) == reading


class Blob(BaseModel):
    name: str
    parts: list[bytes]


class Blob64(BaseModel):
    model_config = ConfigDict(ser_json_bytes="base64", val_json_bytes="base64")
    parts: list[bytes]


def test_bytes_that_are_not_utf8_name_the_field_and_the_setting(
    engine: TypeEngine, ctx: ValueContext
) -> None:
    with pytest.raises(ConversionError) as info:
        engine.to_value(Blob(name="b", parts=[b"ok", b"\xff\x00"]), Blob, ctx)
    assert "Blob.parts[1] holds bytes that are not UTF-8" in str(info.value)
    assert "ser_json_bytes='base64'" in str(info.value)
    kept = Blob64(parts=[b"\xff\x00"])
    assert engine.to_python(engine.to_value(kept, Blob64, ctx), Blob64, ctx) == kept
