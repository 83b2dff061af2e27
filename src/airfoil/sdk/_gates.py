"""Gates: nodes that wait durably, for time or for a person.

```python
af.sleep(timedelta(minutes=5)) >> train(...)
threshold = af.wait_for_input("threshold", timeout=timedelta(hours=1), expected_type=float)
deployed = deploy(model=af.approve(model, "ship-it", timeout=timedelta(days=1)))
```

Waiting survives restarts (the timeout counts from when the gate started). Signals are
sent with ``airfoil signal EXECUTION NAME VALUE`` and are type-checked against the gate.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from airfoil.core.errors import DefinitionError
from airfoil.core.phases import GateKind
from airfoil.core.records import Binding, GateSpec, TypeSpec
from airfoil.core.resources import parse_duration
from airfoil.sdk import _compile
from airfoil.sdk._promise import NodeOutputs, Promise

__all__ = ["approve", "sleep", "wait_for_input"]

_SIGNAL_KINDS = {"int", "float", "bool", "str", "list", "dict", "none", "union"}


def _ctx(what: str) -> _compile.CompileContext:
    ctx = _compile.active()
    if ctx is None:
        raise DefinitionError(f"af.{what}() is used inside a workflow body")
    return ctx


def _seconds(value: timedelta | float | str | None, what: str) -> float | None:
    if value is None:
        return None
    try:
        return parse_duration(value)
    except Exception as exc:
        raise DefinitionError(f"{what}: {exc}") from None


def _gate_node(
    ctx: _compile.CompileContext, gate: GateSpec, inputs: dict[str, Binding], label: str
) -> str:
    node_id = ctx.new_id()
    frame_loc = _compile.current_location() or ctx.location
    node = _compile.PendingNode(
        id=node_id,
        kind="gate",
        inputs=inputs,
        callee=gate,
        upstream=[],
        label=label,
        location=frame_loc,
    )
    ctx.nodes.append(node)
    return node_id


def sleep(duration: timedelta | float | str) -> NodeOutputs:
    """Wait ``duration`` (durably), e.g. ``af.sleep(timedelta(minutes=5)) >> next_step()``."""
    ctx = _ctx("sleep")
    seconds = _seconds(duration, "af.sleep")
    assert seconds is not None
    node_id = _gate_node(
        ctx, GateSpec(kind=GateKind.SLEEP, duration_s=seconds), {}, f"sleep {seconds:g}s"
    )
    return NodeOutputs(node_id, "sleep", {})


def wait_for_input(name: str, timeout: timedelta | float | str, expected_type: Any) -> Promise:
    """Wait for a value sent with ``airfoil signal EXECUTION NAME VALUE``.

    Args:
        name: the signal's name (unique in the workflow).
        timeout: how long to wait before the node fails.
        expected_type: the value's type: int, float, bool, str, or a list/dict of those.
    """
    ctx = _ctx("wait_for_input")
    spec = ctx.engine.to_spec(expected_type)
    if spec.kind not in _SIGNAL_KINDS:
        raise DefinitionError(
            f"af.wait_for_input({name!r}): signals carry int, float, bool, str, or lists and "
            f"dicts of those, not {spec}",
            workflow=ctx.workflow,
        )
    gate = GateSpec(
        kind=GateKind.INPUT, name=_name(name), timeout_s=_seconds(timeout, name), type=spec
    )
    node_id = _gate_node(ctx, gate, {}, f"input {name}")
    return Promise(
        Binding(kind="output", node=node_id, name="o0"), spec, expected_type, f"signal {name!r}"
    )


def approve(value: Any, name: str, timeout: timedelta | float | str) -> Promise:
    """Pass ``value`` on once a person approves it (``airfoil signal EXECUTION NAME true``);
    a rejection (``false``) or the timeout fails the node."""
    ctx = _ctx("approve")
    if not isinstance(value, Promise):
        raise DefinitionError(
            f"af.approve({name!r}) approves a promise (a task's output)", workflow=ctx.workflow
        )
    gate = GateSpec(
        kind=GateKind.APPROVE,
        name=_name(name),
        timeout_s=_seconds(timeout, name),
        type=TypeSpec("bool"),
    )
    node_id = _gate_node(ctx, gate, {"value": value.binding}, f"approve {name}")
    return Promise(
        Binding(kind="output", node=node_id, name="o0"),
        value.spec,
        value.py_type,
        f"approval {name!r}",
    )


def _name(name: str) -> str:
    if not name or not isinstance(name, str) or "/" in name:
        raise DefinitionError(f"invalid gate name {name!r}: use a short name without '/'")
    return name
