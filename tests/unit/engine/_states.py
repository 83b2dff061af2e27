"""Helpers of the pure state machine's unit tests: JSON values and a fresh run state."""

from __future__ import annotations

import msgspec

from airfoil.core.records import ExecutionRecord, Value, WorkflowSpec
from airfoil.engine import state as sm


def jv(data: object) -> Value:
    """``data`` as an inline JSON value."""
    raw = msgspec.json.encode(data)
    return Value(hash=f"h{raw!r}", format="json", inline=raw, size=len(raw))


def new_state(spec: WorkflowSpec, **inputs: object) -> sm.RunState:
    """The state of a new execution ``e1`` of ``spec`` with these inputs (as JSON values)."""
    record = ExecutionRecord(
        id="e1",
        workflow=spec.name,
        version=spec.version,
        phase="queued",
        spec=spec,
        inputs={k: jv(v) for k, v in inputs.items()},
        created_at=0.0,
    )
    return sm.RunState(record)
