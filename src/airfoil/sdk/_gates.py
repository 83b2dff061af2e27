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
from airfoil.core.records import Binding, GateSpec, NodeSpec, TypeSpec
from airfoil.core.resources import parse_duration
from airfoil.sdk import _compile
from airfoil.sdk._promise import NodeOutputs, Promise

__all__ = ["approve", "check_gate_names", "sleep", "wait_for_input"]

_SIGNAL_KINDS = {"int", "float", "bool", "str", "list", "dict", "none", "union"}


def _signal_type_problem(spec: TypeSpec) -> TypeSpec | None:
    """The part of ``spec`` a signal cannot carry (``None``: all of it can), looked for down
    to the leaves: ``list[datetime]`` is refused for its ``datetime``, a bare ``list`` for
    its ``any`` elements (``airfoil signal`` could not type-check a value against them)."""
    if spec.kind not in _SIGNAL_KINDS:
        return spec
    if spec.kind in ("list", "dict", "union") and not spec.args:
        return spec
    for arg in spec.args:
        bad = _signal_type_problem(arg)
        if bad is not None:
            return bad
    return None


def _gates_by_name(nodes: tuple[NodeSpec, ...], found: dict[str, list[GateSpec]]) -> None:
    for node in nodes:
        if node.gate is not None and node.gate.kind != GateKind.SLEEP:
            found.setdefault(node.gate.name, []).append(node.gate)
        if node.workflow is not None:
            _gates_by_name(node.workflow.nodes, found)
        for case in node.cases:
            _gates_by_name(case.nodes, found)


def check_gate_names(nodes: tuple[NodeSpec, ...], workflow: str) -> None:
    """Refuse two gates of one name that wait for different types (subworkflows included).

    One signal answers every gate of its name, type-checked once: gates of one name and one
    type (a subworkflow called twice) are answered together; a ``float`` gate and a ``str``
    gate of one name would let a value checked against one reach the other.

    Raises:
        DefinitionError: naming the gate and its types.
    """
    found: dict[str, list[GateSpec]] = {}
    _gates_by_name(nodes, found)
    for name, gates in found.items():
        types = sorted({str(g.type) for g in gates})
        if len(types) > 1:
            raise DefinitionError(
                f"gates named {name!r} wait for different types ({', '.join(types)}): one "
                "signal answers every gate of a name, so give each type its own name",
                workflow=workflow,
            )


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
        name: the signal's name. One signal answers every gate of its name (a subworkflow
            called twice), so gates of one name must wait for one type.
        timeout: how long to wait before the node fails.
        expected_type: the value's type: int, float, bool, str, None, or lists, dicts and
            unions of those (checked down to the leaves when the workflow is defined).
    """
    ctx = _ctx("wait_for_input")
    spec = ctx.engine.to_spec(expected_type)
    bad = _signal_type_problem(spec)
    if bad is not None:
        where = "" if bad == spec else f" (its {bad} part)"
        raise DefinitionError(
            f"af.wait_for_input({name!r}): signals carry int, float, bool, str, None, or "
            f"lists, dicts and unions of those, not {spec}{where}",
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
