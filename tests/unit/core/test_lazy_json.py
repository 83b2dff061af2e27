"""The store's JSON decoders are built when first used, not at import (issue 17, W5: building
one resolves every type hint of the structs it reaches, ~4% of a plain `airfoil run`)."""

from __future__ import annotations

import subprocess
import sys

import msgspec
import pytest

from airfoil.core.lazy_json import LazyDecoder

pytestmark = pytest.mark.unit

_COUNT_BUILT_AT_IMPORT = """
import msgspec.json
built = []
_Decoder = msgspec.json.Decoder


def counting(*args, **kwargs):
    built.append(args[0] if args else kwargs.get("type"))
    return _Decoder(*args, **kwargs)


msgspec.json.Decoder = counting
import airfoil.engine._authority, airfoil.store.artifacts, airfoil.store.memory
import airfoil.store.memory_artifacts, airfoil.store._memory_control
import airfoil.store._memory_observability, airfoil.store._memory_schedules
import airfoil.store._memory_scheduling, airfoil.store.sql._store, airfoil.store.sql._views
import airfoil.store.sql._artifacts, airfoil.store.sql._cache, airfoil.store.sql._control
import airfoil.store.sql._observability, airfoil.store.sql._schedules
import airfoil.store.sql._scheduling
print(sorted(getattr(t, "__name__", repr(t)) for t in built if t is not None))
"""


def test_the_store_modules_build_no_typed_decoder_at_import() -> None:
    proc = subprocess.run(
        [sys.executable, "-c", _COUNT_BUILT_AT_IMPORT],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    assert proc.stdout.strip() == "[]"


class Point(msgspec.Struct, frozen=True):
    x: int
    label: str = ""


def _entry() -> Point:
    return Point(x=1, label="a")


def test_it_decodes_as_msgspec_s_decoder_and_builds_it_once(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    built: list[object] = []
    real = msgspec.json.Decoder

    def counting(type_: object) -> object:
        built.append(type_)
        return real(type_)

    monkeypatch.setattr(msgspec.json, "Decoder", counting)
    lazy = LazyDecoder(Point)
    assert built == []
    early = lazy.decode  # taken before the first call, as `decode_each(..., _NODE.decode)`
    buf = msgspec.json.encode(_entry())
    assert early(buf) == _entry()
    assert lazy.decode(buf) == _entry()
    assert early(buf) == _entry()
    assert built == [Point]
    with pytest.raises(msgspec.ValidationError):
        lazy.decode(b'{"x": "one"}')
