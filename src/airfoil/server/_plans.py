"""Launch plan services: register plans of a code package, list them, launch one, and
activate or deactivate its schedule in a domain (fired by the server's scheduler loop).

Inputs are merged with :func:`airfoil.core.launch_plans.merge_launch_inputs`, the same rule
as local launches, so overriding a fixed input fails the same way (a
:class:`~airfoil.core.launch_plans.FixedInputError`, answered 422 ``fixed_input``).
"""

from __future__ import annotations

import hashlib
from typing import Any

import msgspec

from airfoil.core.errors import ConfigError, InvalidInputError, NotFoundError
from airfoil.core.launch_plans import (
    LaunchPlanSpec,
    merge_launch_inputs,
    notification_problem,
    unattended_launch_problem,
)
from airfoil.core.records import Value, WorkflowSpec
from airfoil.runtime._packages import package_ref
from airfoil.server import _convert as cv
from airfoil.server._deps import Deps, check_domain, own_only
from airfoil.server._idempotency import launch_once
from airfoil.server._launching import check_launch, json_binder, upload_references
from airfoil.server._registration import check_registered_spec
from airfoil.server._registry import LaunchPlanRow
from airfoil.server._tenancy import MayRead
from airfoil.store._schedules import ScheduleRecord
from airfoil.wire import (
    ExecutionSummary,
    LaunchPlanLaunchRequest,
    LaunchPlanList,
    LaunchPlanOut,
    RegisterRequest,
    ScheduleStateOut,
)

__all__ = [
    "activate",
    "check_launch_plans",
    "deactivate",
    "get_launch_plan",
    "launch",
    "list_launch_plans",
    "list_schedules",
    "plan_version",
    "register_launch_plans",
]

_canonical = msgspec.json.Encoder(order="deterministic")


def plan_version(spec: LaunchPlanSpec) -> str:
    """A launch plan's version: the hash of its spec (same plan, same version)."""
    return hashlib.sha256(_canonical.encode(spec)).hexdigest()[:16]


def check_launch_plans(d: Deps, project: str, req: RegisterRequest) -> list[LaunchPlanRow]:
    """The launch plans of a registration, checked (before anything is registered)."""
    now = d.clock.now()
    rows: list[LaunchPlanRow] = []
    for p in req.launch_plans:
        try:
            spec = msgspec.json.decode(msgspec.json.encode(p.spec), type=LaunchPlanSpec)
        except msgspec.ValidationError as exc:
            raise InvalidInputError(f"launch plan {p.name!r}: invalid spec: {exc}") from None
        check_registered_spec(spec, f"launch plan {p.name!r}")
        for n in spec.notifications:
            problem = notification_problem(n)
            if problem is not None:
                raise InvalidInputError(f"launch plan {p.name!r}: {problem}")
        _check_unattended(spec, p.name)
        if spec.name != p.name:
            raise InvalidInputError(
                f"launch plan {p.name!r} does not match its spec (named {spec.name!r})"
            )
        rows.append(
            LaunchPlanRow(
                project=project,
                name=spec.name,
                version=plan_version(spec),
                workflow=spec.workflow.name,
                workflow_version=spec.workflow.version,
                package=req.package,
                registered_at=now,
                spec=_canonical.encode(spec).decode(),
            )
        )
    return rows


def _check_unattended(spec: LaunchPlanSpec, name: str) -> None:
    """A plan's schedule (cron expression, time zone, interval) and the inputs a schedule or
    trigger launches it with, checked as ``af.LaunchPlan`` checks them: a spec sent as JSON
    is refused at registration, not when its schedule is activated or fires."""
    from airfoil.engine.schedules import validate_schedule

    if spec.schedule is not None:
        try:
            validate_schedule(spec.schedule)
        except ConfigError as exc:
            raise InvalidInputError(f"launch plan {name!r}: {exc}") from None
    problem = unattended_launch_problem(spec)
    if problem is not None:
        raise InvalidInputError(problem)


def register_launch_plans(d: Deps, rows: list[LaunchPlanRow]) -> list[LaunchPlanOut]:
    """Register checked launch plans (after their package's entities)."""
    if not rows:
        return []
    done = d.registry.register_launch_plans(rows)
    return [_out(d, row, created) for row, created in done]


def list_launch_plans(d: Deps, project: str) -> LaunchPlanList:
    """The newest version of each registered launch plan."""
    return LaunchPlanList(items=[_out(d, row) for row in d.registry.list_launch_plans(project)])


def get_launch_plan(d: Deps, project: str, name: str) -> LaunchPlanOut:
    return _out(d, d.registry.get_launch_plan(project, name, None))


def launch(
    d: Deps,
    project: str,
    domain: str,
    name: str,
    req: LaunchPlanLaunchRequest,
    may_read: MayRead = own_only,
    idempotency_key: str | None = None,
) -> tuple[ExecutionSummary, bool]:
    """Launch a registered plan: the request's JSON inputs merged with the plan's; its
    summary and whether it was launched now (as :func:`~airfoil.server._launching.launch`
    takes an ``Idempotency-Key``)."""
    check_launch(domain, req.name)

    def launch_now(idempotency: tuple[str, str]) -> ExecutionSummary:
        return _launch_plan(d, project, domain, name, req, may_read, idempotency)

    target = f"launch plan {name}"
    return launch_once(d, project, idempotency_key, launch_now, (domain, req, target))


def _launch_plan(
    d: Deps,
    project: str,
    domain: str,
    name: str,
    req: LaunchPlanLaunchRequest,
    may_read: MayRead,
    idempotency: tuple[str, str],
) -> ExecutionSummary:
    from airfoil.engine.launch_plans import launch_values, plan_labels

    row = d.registry.get_launch_plan(project, name, req.version)
    spec = _spec(row)
    iface = spec.workflow.interface
    # Which input comes from where, checked first on the raw JSON: the same rule and the same
    # messages as a local launch (a fixed input given is refused before any conversion).
    merge_launch_inputs(
        iface,
        launch_plan=spec.name,
        defaults=spec.default_inputs,
        fixed=spec.fixed_inputs,
        given=req.inputs,
    )
    given = _convert_given(d, spec.workflow, req.inputs, project, may_read)
    values = launch_values(spec, given, d.types, d.blobs)
    labels = {**req.labels, "airfoil.package": row.package, "launch_plan_version": row.version}
    state = d.launcher.launch(
        spec.workflow,
        values,
        project=project,
        domain=domain,
        name=req.name,
        code_root=package_ref(row.package, d.blob_url),
        labels=plan_labels(spec, labels),
        idempotency=idempotency,
    )
    d.launched()
    return cv.summary_out(state.execution)


def activate(d: Deps, project: str, domain: str, name: str) -> ScheduleStateOut:
    """Fire the newest version of a plan's schedule in ``domain`` from now on."""
    from airfoil.engine.scheduler_loop import activate_schedule

    check_domain(domain)
    row = d.registry.get_launch_plan(project, name, None)
    spec = _spec(row)
    if spec.trigger is not None:
        return _schedule_out(_activate_trigger(d, spec, row, project, domain))
    record = activate_schedule(
        d.meta,
        _spec(row),
        now=d.clock.now(),
        code_root=package_ref(row.package, d.blob_url),
        executor="process",  # the server runs user code in worker processes only
        project=project,
        domain=domain,
    )
    return _schedule_out(record)


def _activate_trigger(
    d: Deps, spec: LaunchPlanSpec, row: LaunchPlanRow, project: str, domain: str
) -> ScheduleRecord:
    """Fire the plan once per version of its artifact added from now on."""
    from airfoil.engine.artifact_triggers import activate_trigger
    from airfoil.engine.scheduler_loop import schedule_store
    from airfoil.store.artifacts import open_artifact_store

    settings = d.runtime.settings
    artifacts = open_artifact_store(settings.database_url, settings.home)
    try:
        return activate_trigger(
            schedule_store(d.meta),
            artifacts,
            spec,
            now=d.clock.now(),
            code_root=package_ref(row.package, d.blob_url),
            executor="process",
            project=project,
            domain=domain,
        )
    finally:
        artifacts.close()


def deactivate(d: Deps, project: str, domain: str, name: str) -> ScheduleStateOut:
    """Stop a plan's schedule firing in ``domain``."""
    from airfoil.engine.scheduler_loop import deactivate_schedule

    check_domain(domain)
    try:
        record = deactivate_schedule(
            d.meta, name, now=d.clock.now(), project=project, domain=domain
        )
    except NotFoundError:
        raise NotFoundError(
            f"launch plan {name!r} has no schedule activated in {project}/{domain}"
        ) from None
    return _schedule_out(record)


def list_schedules(d: Deps, project: str, domain: str) -> list[ScheduleStateOut]:
    """The schedules of a project's domain, active or not."""
    from airfoil.engine.scheduler_loop import schedule_store

    check_domain(domain)
    store = schedule_store(d.meta)
    return [_schedule_out(r) for r in store.list_schedules(project=project, domain=domain)]


# --- helpers ------------------------------------------------------------------------------------


def _spec(row: LaunchPlanRow) -> LaunchPlanSpec:
    return msgspec.json.decode(row.spec, type=LaunchPlanSpec)


def _out(d: Deps, row: LaunchPlanRow, created: bool = False) -> LaunchPlanOut:

    spec = _spec(row)
    return LaunchPlanOut(
        project=row.project,
        name=row.name,
        version=row.version,
        workflow=row.workflow,
        workflow_version=row.workflow_version,
        package=row.package,
        registered_at=row.registered_at,
        interface=cv.interface_out(spec.workflow.interface, d.types, d.value_ctx()),
        default_inputs=sorted(spec.default_inputs),
        fixed_inputs=sorted(spec.fixed_inputs),
        schedule=_describe(spec),
        created=created,
    )


def _describe(spec: LaunchPlanSpec) -> str:
    from airfoil.engine.artifact_triggers import describe_trigger
    from airfoil.engine.schedules import describe_schedule

    if spec.trigger is not None:
        return describe_trigger(spec.trigger)
    return describe_schedule(spec.schedule) if spec.schedule is not None else ""


def _schedule_out(record: ScheduleRecord) -> ScheduleStateOut:
    from airfoil.engine.schedules import schedule_problem

    triggered = record.spec.trigger is not None  # its next_fire_at is a version cursor
    return ScheduleStateOut(
        project=record.project,
        domain=record.domain,
        name=record.name,
        version=plan_version(record.spec),
        schedule=_describe(record.spec) or "-",
        active=record.active,
        next_fire_at=None if triggered else record.next_fire_at,
        last_fired_at=None if triggered else record.last_fired_at,
        last_execution_id=record.last_execution_id,
        problem=schedule_problem(record.spec.schedule),
    )


def _convert_given(
    d: Deps, wf: WorkflowSpec, given: dict[str, Any], project: str, may_read: MayRead
) -> dict[str, Value]:
    """The launch's own JSON inputs as values (only those given; names already checked)."""
    return json_binder(d, wf).from_json(
        given, upload_references(d, project, may_read), partial=True
    )
