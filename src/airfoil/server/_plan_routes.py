"""``/api/v1`` routes of launch plans and their schedules: list, show, launch, activate,
deactivate.

Kept apart from :mod:`airfoil.server._routes` (its own router, included by the app), with
the same roles, path types and launch answer (an ``Idempotency-Key`` as the launch route's).
"""

from __future__ import annotations

from fastapi import APIRouter

from airfoil.server import _plans as plans
from airfoil.server._auth import may_read
from airfoil.server._routes import (
    _ERRORS,
    _REPLAYED,
    Deps,
    Runner,
    Viewer,
    _Domain,
    _IdemKey,
    _launched,
    _Name,
    _Project,
    route_on,
)
from airfoil.wire import (
    API_PREFIX,
    ExecutionSummary,
    LaunchPlanLaunchRequest,
    LaunchPlanList,
    LaunchPlanOut,
    ScheduleStateOut,
)

__all__ = ["router"]

router = APIRouter(prefix=API_PREFIX, responses=_ERRORS)
_route = route_on(router)


@_route("GET", "/projects/{project}/launch-plans", "viewer", response_model=LaunchPlanList)
def list_launch_plans(project: _Project, d: Deps, _: Viewer) -> LaunchPlanList:
    """Registered launch plans, newest version of each."""
    return plans.list_launch_plans(d, project)


@_route("GET", "/projects/{project}/launch-plans/{name}", "viewer", response_model=LaunchPlanOut)
def get_launch_plan(project: _Project, name: _Name, d: Deps, _: Viewer) -> LaunchPlanOut:
    """The newest version of a launch plan: its workflow, preset inputs and schedule."""
    return plans.get_launch_plan(d, project, name)


@_route(
    "POST",
    "/projects/{project}/domains/{domain}/launch-plans/{name}/launch",
    "runner",
    response_model=ExecutionSummary,
    status_code=201,
    responses=_REPLAYED,
)
def launch_launch_plan(
    project: _Project,
    domain: _Domain,
    name: _Name,
    body: LaunchPlanLaunchRequest,
    d: Deps,
    who: Runner,
    idempotency_key: _IdemKey = None,
) -> ExecutionSummary:
    """Launch a launch plan; ``inputs`` override its defaults (a fixed input is a 422). An
    ``Idempotency-Key`` is taken as by the launch route."""
    return _launched(*plans.launch(d, project, domain, name, body, may_read(who), idempotency_key))


@_route(
    "POST",
    "/projects/{project}/domains/{domain}/launch-plans/{name}/activate",
    "runner",
    response_model=ScheduleStateOut,
)
def activate_schedule(
    project: _Project,
    domain: _Domain,
    name: _Name,
    d: Deps,
    _: Runner,
) -> ScheduleStateOut:
    """Fire the plan's schedule in this domain from now on (its newest version)."""
    return plans.activate(d, project, domain, name)


@_route(
    "POST",
    "/projects/{project}/domains/{domain}/launch-plans/{name}/deactivate",
    "runner",
    response_model=ScheduleStateOut,
)
def deactivate_schedule(
    project: _Project,
    domain: _Domain,
    name: _Name,
    d: Deps,
    _: Runner,
) -> ScheduleStateOut:
    """Stop the plan's schedule firing in this domain."""
    return plans.deactivate(d, project, domain, name)


@_route(
    "GET",
    "/projects/{project}/domains/{domain}/schedules",
    "viewer",
    response_model=list[ScheduleStateOut],
)
def list_schedules(
    project: _Project, domain: _Domain, d: Deps, _: Viewer
) -> list[ScheduleStateOut]:
    """The launch plan schedules of this domain, active or not."""
    return plans.list_schedules(d, project, domain)
