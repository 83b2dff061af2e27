"""Launching a launch plan: merge its inputs, launch, drive, notify.

One launch path for every caller: a local call of a :class:`~airfoil.sdk.LaunchPlan`, the
scheduler loop and backfills (and, through :func:`launch_values`, the server). Notifications
are sent here, after :meth:`Engine.drive` returns the final phase, so the engine knows nothing
about them.

Invariants:

- A notification never fails or changes an execution: every error of a webhook (refused,
  timed out, an HTTP error status) is logged and swallowed, after one retry.
- Inputs are merged by :func:`airfoil.core.launch_plans.merge_launch_inputs` only.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from airfoil.core.errors import ConflictError, NotFoundError
from airfoil.core.launch_plans import (
    NOTIFY_ANOMALY,
    LaunchPlanSpec,
    NotificationSpec,
    merge_launch_inputs,
)
from airfoil.core.records import ExecutionRecord, Value, WorkflowSpec
from airfoil.engine.runner import Engine
from airfoil.engine.schedules import kickoff_datetime

if TYPE_CHECKING:
    from airfoil.core.blobs import BlobStore
    from airfoil.engine.local import ValueStores
    from airfoil.store._observability import ObservabilityStore
    from airfoil.store.base import MetaStore
    from airfoil.types import TypeEngine

__all__ = [
    "after_drive",
    "anomaly_finder",
    "engine_anomalies",
    "prepare_launch",
    "drive_and_notify",
    "kickoff_inputs",
    "launch_launch_plan",
    "plan_labels",
    "launch_values",
    "local_launch_inputs",
    "notification_text",
    "notify",
    "own_firing_id",
    "post_json",
]

log = logging.getLogger("airfoil.notifications")

#: ``(url, payload, timeout_s)`` -> None; raises on failure. Replaceable in tests.
Poster = Callable[[str, dict[str, Any], float], None]
#: () -> the anomalies of the ended execution, one line each (asked only when a
#: notification of the plan is sent on ``"anomaly"``).
AnomalyFinder = Callable[[], list[str]]
#: The most anomalies a notification lists (the rest are counted).
ANOMALIES_LISTED = 5


def anomaly_finder(
    meta: ObservabilityStore,
    execution_id: str,
    *,
    k: float,
    min_history: int,
    last: int,
) -> AnomalyFinder:
    """What finds the anomalies of an ended execution for its notifications."""

    def find() -> list[str]:
        from airfoil.store._task_history import execution_anomalies

        found = execution_anomalies(meta, execution_id, k=k, min_history=min_history, last=last)
        return [f"{a.node_id} {a.task}: {a.message}" for a in found]

    return find


def engine_anomalies(engine: Engine, execution_id: str) -> AnomalyFinder:
    """:func:`anomaly_finder` over the engine's store with the rule of its settings."""
    s = engine.settings
    return anomaly_finder(
        engine.meta,
        execution_id,
        k=s.anomaly_k,
        min_history=s.anomaly_min_history,
        last=s.history_runs,
    )


def launch_values(
    spec: LaunchPlanSpec, given: dict[str, Value], types: TypeEngine, blobs: BlobStore
) -> dict[str, Value]:
    """The complete inputs of a launch of ``spec`` from already-serialised ``given`` inputs:
    the plan's defaults and fixed inputs merged in, the workflow's own defaults filled.

    Raises:
        InvalidInputError: ``given`` overrides a fixed input, names an unknown input, or a
            required input is set by nobody.
    """
    iface = spec.workflow.interface
    merged = merge_launch_inputs(
        iface,
        launch_plan=spec.name,
        defaults=spec.default_inputs,
        fixed=spec.fixed_inputs,
        given=given,
    )
    for p in iface.inputs:
        if p.name in merged:
            continue
        if p.default is not None:
            merged[p.name] = p.default
        else:  # ``x: T | None = None``: the default is None, stored as JSON null
            from airfoil.types import ValueContext

            merged[p.name] = types.to_value(None, type(None), ValueContext(blobs=blobs))
    return {p.name: merged[p.name] for p in iface.inputs}


def kickoff_inputs(
    spec: LaunchPlanSpec, instant: float, types: TypeEngine, blobs: BlobStore
) -> dict[str, Value]:
    """``{kickoff_time_input_arg: the instant as a datetime}``, or ``{}`` when the plan's
    schedule passes no kickoff time."""
    schedule = spec.schedule
    if schedule is None or not schedule.kickoff_time_input_arg:
        return {}
    import datetime as dt

    from airfoil.types import ValueContext

    when = kickoff_datetime(schedule, instant)
    value = types.to_value(when, dt.datetime, ValueContext(blobs=blobs))
    return {schedule.kickoff_time_input_arg: value}


#: How many ids a plan's firing tries past those other projects' executions hold.
FIRING_ID_TRIES = 8


def own_firing_id(meta: MetaStore, ids: Callable[[int], str], project: str, domain: str) -> str:
    """The deterministic id of a plan's firing (a schedule's instant, an artifact version):
    ``ids(0)``, unless an execution of another project or domain holds it, then ``ids(1)``,
    ``ids(2)``... Execution ids are one namespace for every project, and a firing's id ends in
    a short digest that another project can match by naming its own plan to collide: its
    execution would be taken for this firing's (launched already: never launched here; for an
    ``overlap='skip'`` schedule, a run still going). Every loop and backfill reads the same
    sequence, so each still finds the same id.

    Raises:
        ConflictError: :data:`FIRING_ID_TRIES` ids in a row are other projects' executions.
    """
    for n in range(FIRING_ID_TRIES):
        eid = ids(n)
        try:
            held = meta.get_execution_head(eid)
        except NotFoundError:
            return eid
        if (held.project, held.domain) == (project, domain):
            return eid  # this firing's, launched already
    raise ConflictError(
        f"the ids of this firing ({ids(0)} and {FIRING_ID_TRIES - 1} more) are held by other "
        "projects' executions: rename the launch plan"
    )


def launch_launch_plan(
    engine: Engine,
    spec: LaunchPlanSpec,
    values: dict[str, Value],
    *,
    execution_id: str | None = None,
    code_root: str = "",
    labels: dict[str, str] | None = None,
) -> ExecutionRecord:
    """Record a new execution of the plan's workflow, labelled with the plan's name."""
    return engine.launch(
        spec.workflow,
        values,
        execution_id=execution_id,
        code_root=code_root,
        labels=plan_labels(spec, labels),
    )


def plan_labels(spec: LaunchPlanSpec, labels: dict[str, str] | None = None) -> dict[str, str]:
    """The labels of an execution of a plan: the plan's, its name, then the launch's own."""
    return {**spec.labels, "launch_plan": spec.name, **(labels or {})}


def drive_and_notify(
    engine: Engine, spec: LaunchPlanSpec, execution_id: str, *, poster: Poster | None = None
) -> ExecutionRecord:
    """Drive an execution of the plan to its end, then send the plan's notifications."""
    record = engine.drive(execution_id)
    notify(spec, record, poster=poster, anomalies=engine_anomalies(engine, execution_id))
    return record


def notification_text(spec: LaunchPlanSpec, record: ExecutionRecord) -> str:
    """The one-line message of a notification."""
    took = ""
    if record.started_at is not None and record.ended_at is not None:
        took = f" in {record.ended_at - record.started_at:.1f}s"
    text = (
        f"Airfoil: execution {record.id} of launch plan {spec.name} "
        f"(workflow {record.workflow}) {record.phase}{took}"
    )
    if record.error is not None and record.phase != "succeeded":
        text += f": {record.error.type}: {record.error.message}"
    return text


def _anomaly_text(found: list[str]) -> str:
    more = len(found) - ANOMALIES_LISTED
    listed = "; ".join(found[:ANOMALIES_LISTED]) + (f"; and {more} more" if more > 0 else "")
    return f". {len(found)} far from their history: {listed}"


def notify(
    spec: LaunchPlanSpec,
    record: ExecutionRecord,
    *,
    poster: Poster | None = None,
    anomalies: AnomalyFinder | None = None,
) -> list[str]:
    """Send the plan's notifications whose phases include the execution's phase, and those
    on ``"anomaly"`` when ``anomalies`` finds any (listed in the text).

    Returns:
        the kinds of notification that were delivered (``"log"``, ``"webhook"``).
        Never raises: failures are logged.
    """
    sent: list[str] = []
    post = poster or post_json
    found: list[str] = []
    if anomalies is not None and any(NOTIFY_ANOMALY in n.phases for n in spec.notifications):
        try:
            found = anomalies()
        except Exception:  # a notification must never fail the execution
            log.exception("finding the anomalies of execution %s failed", record.id)
    for n in spec.notifications:
        flagged = bool(found) and NOTIFY_ANOMALY in n.phases
        if record.phase not in n.phases and not flagged:
            continue
        text = notification_text(spec, record) + (_anomaly_text(found) if flagged else "")
        if n.kind == "log":
            level = logging.INFO if record.phase == "succeeded" else logging.WARNING
            log.log(level, text)
            sent.append("log")
        elif n.kind == "webhook" and _send_webhook(n, text, post):
            sent.append("webhook")
    return sent


def _send_webhook(n: NotificationSpec, text: str, post: Poster, tries: int = 2) -> bool:
    for attempt in range(1, tries + 1):
        try:
            post(n.url, {"text": text}, n.timeout_s)
            return True
        except Exception as exc:  # a notification must never fail the execution
            if attempt == tries or isinstance(exc, PermissionError):  # refused: final
                log.warning("webhook %s failed after %d tries: %s", _safe(n.url), attempt, exc)
                break
            else:
                time.sleep(0.2)
    return False


def _safe(url: str) -> str:
    """The URL without its path (Slack webhook paths are secrets), query or credentials
    (``user:password@``)."""
    scheme, _, rest = url.partition("://")
    host = rest.split("/", 1)[0].split("?", 1)[0].split("#", 1)[0].rsplit("@", 1)[-1]
    return f"{scheme}://{host}/..."


def post_json(url: str, payload: dict[str, Any], timeout_s: float) -> None:
    """POST ``payload`` as JSON; raise on a connection error or a non-2xx status."""
    import urllib.error  # only when a notification is sent: urllib.request pulls in http,
    import urllib.request  # ssl and email (~20 ms of every `airfoil run` otherwise)

    if not url.lower().startswith(("http://", "https://")):  # a spec stored before the check
        raise urllib.error.URLError(f"not an http(s) URL: {url.partition(':')[0]}:")
    body = json.dumps(payload).encode()
    request = urllib.request.Request(
        url, data=body, method="POST", headers={"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=timeout_s) as response:
        status = int(response.status)
    if not 200 <= status < 300:  # pragma: no cover - urlopen raises HTTPError for these
        raise urllib.error.URLError(f"HTTP {status}")


def local_launch_inputs(plan: Any, given: dict[str, Any], runtime: ValueStores) -> dict[str, Value]:
    """A local launch's inputs: Python values merged with the plan's presets, type-checked
    and serialised (what ``airfoil run FILE PLAN`` and a call of the plan launch with).

    Raises:
        InvalidInputError: a fixed, unknown, missing or ill-typed input.
    """
    from airfoil.engine.local import convert_inputs

    merged = merge_launch_inputs(
        plan.spec.workflow.interface,
        launch_plan=plan.name,
        defaults=plan.default_inputs,
        fixed=plan.fixed_inputs,
        given=given,
    )
    values: dict[str, Value] = convert_inputs(plan.workflow, merged, runtime)
    return values


def prepare_launch(
    entity: Any, given: dict[str, Any], runtime: ValueStores
) -> tuple[WorkflowSpec, dict[str, Value], dict[str, str]]:
    """What to launch for a task, workflow or launch plan given Python inputs (the CLI's
    ``airfoil run FILE NAME``): ``(workflow spec, inputs, labels)``.

    Raises:
        InvalidInputError: a fixed, unknown, missing or ill-typed input.
    """
    from airfoil.core.launch_plans import LaunchPlanSpec

    spec = getattr(entity, "spec", None)
    if isinstance(spec, LaunchPlanSpec):
        labels = {**spec.labels, "launch_plan": spec.name}
        return spec.workflow, local_launch_inputs(entity, given, runtime), labels
    from airfoil.engine.local import convert_inputs, spec_of

    return spec_of(entity), convert_inputs(entity, given, runtime), {}


def after_drive(
    entity: Any,
    record: ExecutionRecord,
    *,
    poster: Poster | None = None,
    anomalies: AnomalyFinder | None = None,
) -> None:
    """Send a launch plan's notifications for its ended execution (nothing for a plain
    task or workflow). Never raises."""
    from airfoil.core.launch_plans import LaunchPlanSpec

    spec = getattr(entity, "spec", None)
    if isinstance(spec, LaunchPlanSpec):
        notify(spec, record, poster=poster, anomalies=anomalies)
