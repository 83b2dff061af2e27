"""Launch services: launch a registered version with JSON inputs, relaunch, recover,
terminate and signal. Launching goes through the runtime's one :class:`~airfoil.engine.
launcher.Launcher` (built once per server); driving is the driver slots' business."""

from __future__ import annotations

from typing import Any

from airfoil.core.errors import (
    ConfigError,
    ConflictError,
    InvalidInputError,
)
from airfoil.core.ids import validate_execution_id
from airfoil.core.records import Param, Value, WorkflowSpec
from airfoil.runtime._packages import package_ref
from airfoil.server import _convert as cv
from airfoil.server._deps import Deps, check_domain, get_head, get_record, own_only
from airfoil.server._idempotency import launch_once
from airfoil.server._tenancy import MayRead
from airfoil.server._uploads import uploaded_list, uploaded_value
from airfoil.types import InputBinder
from airfoil.types._binding import References
from airfoil.types._refs import is_upload_list
from airfoil.wire import (
    ExecutionSummary,
    LaunchRequest,
    SignalOut,
)

__all__ = ["convert_json_inputs", "launch", "recover", "relaunch", "signal", "terminate"]


def convert_json_inputs(
    d: Deps,
    spec: WorkflowSpec,
    given: dict[str, Any],
    project: str = "default",
    may_read: MayRead = own_only,
) -> dict[str, Value]:
    """Bind JSON inputs to the interface (:class:`~airfoil.types.InputBinder`); files,
    frames, arrays and a converter's kinds come as references to uploads.

    Raises:
        InvalidInputError: an unknown, missing or ill-typed input (naming it and its type).
    """
    return json_binder(d, spec).from_json(given, upload_references(d, project, may_read))


def json_binder(d: Deps, spec: WorkflowSpec) -> InputBinder:
    """The binder of a workflow version's inputs on this server (no Python types)."""
    return InputBinder(spec.name, spec.interface, d.types, d.value_ctx())


def upload_references(d: Deps, project: str, may_read: MayRead = own_only) -> References:
    """Resolves reference inputs of a launch in ``project`` to the uploads they name."""

    def resolve(p: Param, data: Any) -> Value:
        if is_upload_list(p.type):  # a JSON array of references, each checked alike
            return uploaded_list(d.blobs, project, p.name, p.type, data, may_read)
        return uploaded_value(d.blobs, project, p.name, p.type, data, may_read)

    return resolve


def check_launch(domain: str, run_name: str | None) -> None:
    """Refuse a launch's domain or run name (its ``name``, when given) before anything is
    read: :class:`InvalidInputError` naming the problem."""
    check_domain(domain)
    if run_name is not None:
        try:
            validate_execution_id(run_name, "run name")
        except ConfigError as exc:
            raise InvalidInputError(f'the launch\'s "name": {exc}') from None


def launch(
    d: Deps,
    project: str,
    domain: str,
    req: LaunchRequest,
    may_read: MayRead = own_only,
    idempotency_key: str | None = None,
) -> tuple[ExecutionSummary, bool]:
    """Launch a registered version (the newest if none is named) with JSON inputs; the
    execution's summary, and whether it was launched now (False: the execution
    ``idempotency_key`` launched before, :mod:`~airfoil.server._idempotency`)."""
    check_launch(domain, req.name)

    def launch_now(idempotency: tuple[str, str]) -> ExecutionSummary:
        row, spec = d.launch_specs.get(project, req.entity, req.version)
        values = convert_json_inputs(d, spec, req.inputs, project, may_read)
        labels = dict(req.labels)
        labels["airfoil.package"] = row.package
        state = d.launcher.launch(
            spec,
            values,
            project=project,
            domain=domain,
            name=req.name,
            code_root=package_ref(row.package, d.blob_url),
            labels=labels,
            idempotency=idempotency,
        )
        d.launched()
        return cv.summary_out(state.execution)

    return launch_once(d, project, idempotency_key, launch_now, (domain, req, ""))


def relaunch(d: Deps, project: str, execution_id: str) -> ExecutionSummary:
    """A new execution of the same version with the same inputs."""
    get_record(d, project, execution_id)
    rec = d.launcher.relaunch(execution_id)
    d.launched()
    return cv.summary_out(rec)


def recover(d: Deps, project: str, execution_id: str) -> ExecutionSummary:
    """A new execution of a failed (or aborted) one that reuses every node that succeeded
    and runs only from the failure on (``ConfigError`` for any other phase)."""
    get_record(d, project, execution_id)
    rec = d.launcher.recover(execution_id)
    d.launched()
    return cv.summary_out(rec)


def terminate(d: Deps, project: str, execution_id: str, reason: str) -> ExecutionSummary:
    """Abort an execution: at once if nobody drives it, else through its driver."""
    rec = get_record(d, project, execution_id)
    if rec.phase in ("succeeded", "failed", "aborted"):
        raise ConflictError(
            f"execution {rec.name or execution_id} already ended ({rec.phase}): nothing to abort"
        )
    try:
        rec = d.launcher.abort(execution_id, reason)
    except ConflictError:  # a driver holds it: ask it to stop, through the control inbox
        from airfoil.store._control import ControlMessage

        stop = ControlMessage(execution_id, "terminate", d.clock.now(), reason=reason)
        d.meta.send_control(stop)  # a second request keeps the first one's reason
    return cv.summary_out(rec)


def signal(d: Deps, project: str, execution_id: str, name: str, value: Any) -> SignalOut:
    """Send a value to a gate waiting in an execution (checked against the gate's type)."""
    import json

    from airfoil.engine.signals import send_signal

    get_head(d, project, execution_id)
    text = value if isinstance(value, str) else json.dumps(value)
    node = send_signal(d.meta, d.blobs, d.types, execution_id, name, text)
    return SignalOut(execution_id=execution_id, name=name, node_id=node)
