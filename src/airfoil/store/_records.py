"""An execution's stored record: its workflow spec stored apart, decoded once per version.

An execution's record is mostly its workflow spec (a fan-out of 100: ~59 KB of JSON, ~100
node structs), and every execution of a workflow version carries the same one. The record's
other fields are decoded each time; its spec is read as raw bytes and decoded only when
they differ from the bytes last seen for that workflow version (compared whole: a spec is
reused only when its stored JSON is byte for byte the one it was decoded from). A
:class:`~airfoil.core.records.WorkflowSpec` is frozen, so the records that share one
cannot change it under each other.

Since revision 0021 the spec is not in the record: a SQL store keeps it in a row of its own
(``execution_specs``; the memory store, a dict beside its rows), written once, while the
execution's row is rewritten by every batch that changes it (launch, the lease's take and
release, the batches: 5 a chain of 100, each with a 47 KB spec's overflow pages before).
:func:`record_json` encodes a record without its spec; :meth:`ExecutionDecoder.decode` takes
the spec's JSON beside it (a record stored before 0021 still carries its own, and decodes as
before).
"""

from __future__ import annotations

import threading
from typing import Any

import msgspec

from airfoil.core.lazy_json import LazyDecoder
from airfoil.core.records import ExecutionRecord, WorkflowSpec

__all__ = ["ExecutionDecoder", "record_json"]


def _raw_spec_struct() -> type[msgspec.Struct]:
    """:class:`ExecutionRecord`'s fields, in order, with the spec left as raw JSON."""
    fields: list[tuple[str, Any] | tuple[str, Any, Any]] = []
    for f in msgspec.structs.fields(ExecutionRecord):
        if f.name == "spec":  # absent from a record stored without its spec (0021)
            fields.append((f.name, msgspec.Raw, msgspec.field(default=_NO_SPEC)))
            continue
        kind = f.type
        if f.default_factory is not msgspec.NODEFAULT:
            fields.append((f.name, kind, msgspec.field(default_factory=f.default_factory)))
        elif f.default is not msgspec.NODEFAULT:
            fields.append((f.name, kind, f.default))
        else:
            fields.append((f.name, kind))
    return msgspec.defstruct("_ExecutionRawSpec", fields, omit_defaults=True, kw_only=True)


def _specless_struct() -> type[msgspec.Struct]:
    """:class:`ExecutionRecord`'s fields but its spec, in order (the stored record, 0021)."""
    fields: list[tuple[str, Any] | tuple[str, Any, Any]] = []
    for f in msgspec.structs.fields(ExecutionRecord):
        if f.name == "spec":
            continue
        if f.default_factory is not msgspec.NODEFAULT:
            fields.append((f.name, f.type, msgspec.field(default_factory=f.default_factory)))
        elif f.default is not msgspec.NODEFAULT:
            fields.append((f.name, f.type, f.default))
        else:
            fields.append((f.name, f.type))
    return msgspec.defstruct("_ExecutionSpecless", fields, omit_defaults=True, kw_only=True)


_NO_SPEC = msgspec.Raw(b"")


_RawSpecRecord = _raw_spec_struct()
_NAMES = ExecutionRecord.__struct_fields__
_SPEC_AT, _WORKFLOW_AT, _VERSION_AT = (_NAMES.index(n) for n in ("spec", "workflow", "version"))
_Specless = _specless_struct()
_SPECLESS_NAMES = _Specless.__struct_fields__
_encoder = msgspec.json.Encoder()


def record_json(ex: ExecutionRecord) -> bytes:
    """``ex``'s stored record: its JSON without the spec (stored apart, ``execution_specs``)."""
    return _encoder.encode(_Specless(**{n: getattr(ex, n) for n in _SPECLESS_NAMES}))


class ExecutionDecoder:
    """Decodes stored execution records, keeping the last decoded spec of up to
    ``versions`` workflow versions (the one read least recently goes first).
    Thread-safe."""

    def __init__(self, versions: int = 64) -> None:
        self._record = LazyDecoder(_RawSpecRecord)
        self._spec = LazyDecoder(WorkflowSpec)
        self._versions = versions
        self._kept: dict[tuple[str, str], tuple[msgspec.Raw, WorkflowSpec]] = {}
        self._lock = threading.Lock()
        #: specs decoded (not found among the kept ones): a count for tests and benchmarks
        self.decoded = 0
        #: by execution id, the spec its ``execution_specs`` row holds, as this store last
        #: wrote or read it (a frozen struct, compared by identity: a record whose spec is
        #: that object needs no spec row written); the newest ``stored_size`` executions
        self._stored: dict[str, WorkflowSpec] = {}
        self.stored_size = 4096

    def decode(self, data: str | bytes, spec: str | bytes | None = None) -> ExecutionRecord:
        """The record stored as ``data`` (JSON), as a full decode would return it, its spec
        the JSON ``spec`` (its ``execution_specs`` row) where the record has none.

        Raises:
            msgspec.ValidationError: ``data`` is not an execution record, or it has no spec
                and ``spec`` is None.
        """
        raw = self._record.decode(data)
        values = [getattr(raw, n) for n in _NAMES]
        if values[_SPEC_AT] is _NO_SPEC:
            if spec is None:
                raise msgspec.ValidationError(
                    "Object missing required field `spec` (neither in the record nor in its "
                    "execution_specs row)"
                )
            values[_SPEC_AT] = msgspec.Raw(spec)
            record = self._with_spec(values)
            self.stored(record)  # its spec row holds this spec
            return record
        return self._with_spec(values)

    def _with_spec(self, values: list[Any]) -> ExecutionRecord:
        values[_SPEC_AT] = self._spec_of(
            values[_WORKFLOW_AT], values[_VERSION_AT], values[_SPEC_AT]
        )
        return ExecutionRecord(*values)

    def spec_stored(self, ex: ExecutionRecord) -> bool:
        """Whether ``ex``'s spec is the one its ``execution_specs`` row holds, as far as
        this store knows (it wrote or read that row with this spec: the same object, or an
        equal one, kept from then on)."""
        known = self._stored.get(ex.id)
        if known is ex.spec:
            return True
        if known is None or known != ex.spec:
            return False
        self._stored[ex.id] = ex.spec  # the next one compares by identity
        return True

    def stored(self, ex: ExecutionRecord) -> None:
        """Note that ``ex``'s ``execution_specs`` row holds ``ex.spec`` (written, committed,
        or read)."""
        with self._lock:
            self._stored.pop(ex.id, None)
            while len(self._stored) >= self.stored_size:
                del self._stored[next(iter(self._stored))]
            self._stored[ex.id] = ex.spec

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
