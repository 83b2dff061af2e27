"""Decoding an execution's stored record, its workflow spec decoded once per version.

An execution's record is mostly its workflow spec (a fan-out of 100: ~59 KB of JSON, ~100
node structs), and every execution of a workflow version carries the same one. The record's
other fields are decoded each time; its spec is read as raw bytes and decoded only when
they differ from the bytes last seen for that workflow version (compared whole: a spec is
reused only when its stored JSON is byte for byte the one it was decoded from). A
:class:`~airfoil.core.records.WorkflowSpec` is frozen, so the records that share one
cannot change it under each other.
"""

from __future__ import annotations

import threading
from typing import Any

import msgspec

from airfoil.core.records import ExecutionRecord, WorkflowSpec

__all__ = ["ExecutionDecoder"]


def _raw_spec_struct() -> type[msgspec.Struct]:
    """:class:`ExecutionRecord`'s fields, in order, with the spec left as raw JSON."""
    fields: list[tuple[str, Any] | tuple[str, Any, Any]] = []
    for f in msgspec.structs.fields(ExecutionRecord):
        kind = msgspec.Raw if f.name == "spec" else f.type
        if f.default_factory is not msgspec.NODEFAULT:
            fields.append((f.name, kind, msgspec.field(default_factory=f.default_factory)))
        elif f.default is not msgspec.NODEFAULT:
            fields.append((f.name, kind, f.default))
        else:
            fields.append((f.name, kind))
    return msgspec.defstruct("_ExecutionRawSpec", fields, omit_defaults=True)


_RawSpecRecord = _raw_spec_struct()
_NAMES = ExecutionRecord.__struct_fields__
_SPEC_AT, _WORKFLOW_AT, _VERSION_AT = (_NAMES.index(n) for n in ("spec", "workflow", "version"))


class ExecutionDecoder:
    """Decodes stored execution records, keeping the last decoded spec of up to
    ``versions`` workflow versions (the one read least recently goes first).
    Thread-safe."""

    def __init__(self, versions: int = 64) -> None:
        self._record = msgspec.json.Decoder(_RawSpecRecord)
        self._spec = msgspec.json.Decoder(WorkflowSpec)
        self._versions = versions
        self._kept: dict[tuple[str, str], tuple[msgspec.Raw, WorkflowSpec]] = {}
        self._lock = threading.Lock()
        #: specs decoded (not found among the kept ones): a count for tests and benchmarks
        self.decoded = 0

    def decode(self, data: str | bytes) -> ExecutionRecord:
        """The record stored as ``data`` (JSON), as a full decode would return it.

        Raises:
            msgspec.ValidationError: ``data`` is not an execution record.
        """
        raw = self._record.decode(data)
        values = [getattr(raw, n) for n in _NAMES]
        values[_SPEC_AT] = self._spec_of(
            values[_WORKFLOW_AT], values[_VERSION_AT], values[_SPEC_AT]
        )
        return ExecutionRecord(*values)

    def _spec_of(self, workflow: str, version: str, data: msgspec.Raw) -> WorkflowSpec:
        key = (workflow, version)
        with self._lock:
            kept = self._kept.pop(key, None)
            if kept is not None and kept[0] == data:
                self._kept[key] = kept  # the most recent again
                return kept[1]
        try:
            spec = self._spec.decode(data)
        except msgspec.ValidationError as exc:  # its path from the record's root, as one decode
            raise msgspec.ValidationError(str(exc).replace("at `$", "at `$.spec", 1)) from exc
        with self._lock:
            self.decoded += 1
            self._kept.pop(key, None)
            while len(self._kept) >= self._versions:
                del self._kept[next(iter(self._kept))]
            self._kept[key] = (data.copy(), spec)
        return spec
