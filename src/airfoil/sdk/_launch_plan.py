"""Launch plans: a workflow with preset inputs, an optional schedule and notifications.

``LaunchPlan.get_or_create(wf, "nightly", default_inputs=..., fixed_inputs=...,
schedule=CronSchedule("0 3 * * *", timezone="Europe/Paris", kickoff_time_input_arg="run_date"),
notifications=[Webhook(url), LogNotification()])`` checks everything it can at definition
time (input names and types, the cron expression, the time zone, the kickoff input) and
builds a :class:`~airfoil.core.launch_plans.LaunchPlanSpec`. Calling the plan runs it through
the embedded engine like a workflow call; ``airfoil schedules activate FILE NAME`` stores its
spec for the scheduler loop.

Invariants:

- Default and fixed inputs are serialised at definition (inline values in the spec), so the
  scheduler launches the plan without importing the user's code.
- Input merging and the fixed-input rule live in
  :func:`airfoil.core.launch_plans.merge_launch_inputs`, shared with the server.
- ``get_or_create`` keeps one plan per name in this process: asking again with the same
  workflow and arguments returns it; with different arguments is a :class:`DefinitionError`
  (a module executed again, which defines a new workflow object, replaces its plans).
"""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Iterable, Mapping
from typing import Any

import msgspec

from airfoil.core.errors import DefinitionError, TypeTransformError
from airfoil.core.launch_plans import (
    NOTIFY_ANOMALY,
    NOTIFY_PHASES,
    OVERLAPS,
    ArtifactTriggerSpec,
    CronScheduleSpec,
    FixedRateSpec,
    LaunchPlanSpec,
    NotificationSpec,
    Overlap,
    cron_fields_problem,
    fixed_rate_problem,
    notification_problem,
    unattended_launch_problem,
)
from airfoil.core.local_runner import local_runner
from airfoil.core.records import Value, WorkflowSpec
from airfoil.sdk import _compile
from airfoil.sdk._entity import type_engine
from airfoil.sdk._versioning import defining

__all__ = [
    "CronSchedule",
    "FixedRate",
    "LaunchPlan",
    "LogNotification",
    "Webhook",
    "on_artifact",
]


class CronSchedule:
    """Fire at the instants a cron expression names, in a time zone.

    Daylight-saving changes are honoured: ``"0 3 * * *"`` in ``Europe/Paris`` fires once a
    day at 03:00 local time, also on the change days; a time the spring-forward change skips
    fires at the first valid instant after it; a repeated time fires once.

    Args:
        expression: five fields, ``"minute hour day-of-month month day-of-week"``.
        timezone: an IANA time zone name; default ``"UTC"``.
        kickoff_time_input_arg: a ``datetime`` input of the workflow that receives the
            scheduled instant (an aware datetime in ``timezone``).
        overlap: ``"allow"`` (default): every instant launches a run, even while the
            previous one is still going; ``"skip"``: an instant whose previous run has not
            ended launches nothing (logged), so at most one run of the schedule goes at once.

    Raises:
        DefinitionError: a malformed expression, an unknown time zone or overlap.
    """

    def __init__(
        self,
        expression: str,
        *,
        timezone: str = "UTC",
        kickoff_time_input_arg: str | None = None,
        overlap: str = "allow",
    ) -> None:
        from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

        from cronsim import CronSim, CronSimError

        if not isinstance(expression, str):
            raise DefinitionError(
                f"CronSchedule: the expression is a str of five fields, e.g. '0 3 * * *', not "
                f"{expression!r}"
            )
        if not isinstance(timezone, str):
            raise DefinitionError(
                f"CronSchedule: timezone takes an IANA name (a str) such as 'Europe/Paris', not "
                f"{timezone!r}"
            )
        try:
            zone = ZoneInfo(timezone)
        except (ZoneInfoNotFoundError, ValueError):
            raise DefinitionError(
                f"CronSchedule: unknown time zone {timezone!r}; use an IANA name such as "
                "'Europe/Paris' or 'UTC'"
            ) from None
        problem = cron_fields_problem(expression)
        if problem is not None:
            raise DefinitionError(f"CronSchedule: {problem}")
        try:
            CronSim(expression, dt.datetime(2000, 1, 1, tzinfo=zone))
        except CronSimError as exc:
            raise DefinitionError(
                f"CronSchedule: invalid cron expression {expression!r}: {exc} (expected five "
                "fields: minute hour day-of-month month day-of-week, e.g. '0 3 * * *')"
            ) from None
        self.spec = CronScheduleSpec(
            expression=expression,
            timezone=timezone,
            kickoff_time_input_arg=_kickoff_arg("CronSchedule", kickoff_time_input_arg),
            overlap=_overlap("CronSchedule", overlap),
        )

    def __repr__(self) -> str:
        return f"CronSchedule({self.spec.expression!r}, timezone={self.spec.timezone!r})"


class FixedRate:
    """Fire every ``interval``, on multiples of it since the Unix epoch (UTC).

    Args:
        interval: the time between firings (one second to a century: the rule the server
            applies to a plan registered as JSON, ``fixed_rate_problem``).
        kickoff_time_input_arg: a ``datetime`` input that receives the scheduled instant
            (an aware datetime in UTC).
        overlap: ``"allow"`` (default) or ``"skip"``, as for :class:`CronSchedule`.

    Raises:
        DefinitionError: the interval is shorter than one second or longer than a century,
            or an unknown overlap.
    """

    def __init__(
        self,
        interval: dt.timedelta,
        *,
        kickoff_time_input_arg: str | None = None,
        overlap: str = "allow",
    ):
        if not isinstance(interval, dt.timedelta):
            raise DefinitionError(
                f"FixedRate: the interval is a datetime.timedelta, e.g. "
                f"FixedRate(timedelta(hours=1)), not {interval!r}"
            )
        seconds = interval.total_seconds()
        problem = fixed_rate_problem(seconds)
        if problem is not None:
            raise DefinitionError(f"FixedRate: {problem} ({interval})")
        self.spec = FixedRateSpec(
            interval_s=seconds,
            kickoff_time_input_arg=_kickoff_arg("FixedRate", kickoff_time_input_arg),
            overlap=_overlap("FixedRate", overlap),
        )

    def __repr__(self) -> str:
        return f"FixedRate({self.spec.interval_s:g}s)"


def _kickoff_arg(what: str, name: str | None) -> str:
    if name is not None and not isinstance(name, str):  # stored in the plan's spec as a str
        raise DefinitionError(
            f"{what}: kickoff_time_input_arg names a datetime input (a str), not {name!r}"
        )
    return name or ""


def _overlap(what: str, overlap: str) -> Overlap:
    if overlap not in OVERLAPS:
        raise DefinitionError(
            f"{what}: unknown overlap {overlap!r}: use 'allow' (every instant launches) or "
            "'skip' (an instant whose previous run is still going launches nothing)"
        )
    return overlap  # type: ignore[return-value]


def _phases(phases: Iterable[str]) -> tuple[str, ...]:
    out = tuple(phases)
    known = (*NOTIFY_PHASES, NOTIFY_ANOMALY)
    bad = [p for p in out if p not in known]
    if bad or not out:
        raise DefinitionError(
            f"notification phases must be some of {', '.join(known)}, got {list(out)}"
        )
    return out


class Webhook:
    """POST ``{"text": "..."}`` (Slack-compatible) to ``url`` when an execution ends in one
    of ``phases``. A failing webhook is logged; it never fails the execution.

    Args:
        url: an ``http://`` or ``https://`` URL (a Slack incoming-webhook URL works).
        phases: the terminal phases to report; default all of them. ``"anomaly"`` also
            reports an execution that ended with attempts far from their task version's
            history (``phases=["failed", "anomaly"]``), listing them.
        timeout_s: how long one call may take.
    """

    def __init__(
        self, url: str, *, phases: Iterable[str] = NOTIFY_PHASES, timeout_s: float = 5.0
    ) -> None:
        if isinstance(timeout_s, bool) or not isinstance(timeout_s, int | float):
            raise DefinitionError(f"Webhook: timeout_s is a number of seconds, got {timeout_s!r}")
        if not isinstance(url, str):
            raise DefinitionError(f"Webhook: expected an http(s) URL, got {url!r}")
        spec = NotificationSpec(
            kind="webhook", phases=_phases(phases), url=url, timeout_s=float(timeout_s)
        )
        problem = notification_problem(spec)
        if problem is not None:
            raise DefinitionError(f"Webhook: {problem}")
        self.spec = spec


class LogNotification:
    """Write one log line (logger ``airfoil.notifications``) when an execution ends in one
    of ``phases``.

    Args:
        phases: the terminal phases to report; default all of them; ``"anomaly"`` as for
            :class:`Webhook`.
    """

    def __init__(self, *, phases: Iterable[str] = NOTIFY_PHASES) -> None:
        self.spec = NotificationSpec(kind="log", phases=_phases(phases))


Notification = Webhook | LogNotification
Schedule = CronSchedule | FixedRate

_registry: dict[str, LaunchPlan] = {}
_registry_lock = threading.Lock()


class LaunchPlan:
    """A workflow with preset inputs, an optional schedule and notifications.

    Create one with :meth:`get_or_create`. Calling it (keyword arguments only) runs the
    workflow through the engine with the merged inputs and returns its outputs; giving a
    fixed input raises :class:`~airfoil.core.errors.InvalidInputError`.

    Attributes:
        name: the plan's name.
        workflow: the workflow (or task) it launches.
        spec: the serialisable :class:`~airfoil.core.launch_plans.LaunchPlanSpec`.
        default_inputs / fixed_inputs: the preset inputs, as Python values.
    """

    def __init__(
        self,
        workflow: Any,
        name: str,
        *,
        default_inputs: Mapping[str, Any] | None = None,
        fixed_inputs: Mapping[str, Any] | None = None,
        schedule: Schedule | None = None,
        notifications: Iterable[Notification] = (),
        labels: Mapping[str, str] | None = None,
        trigger: ArtifactTriggerSpec | None = None,
    ) -> None:
        if not hasattr(workflow, "py_interface"):
            raise DefinitionError(
                f"launch plan {name!r}: expected a @workflow or @task, got {workflow!r}"
            )
        if isinstance(notifications, Iterable) and not isinstance(notifications, (str, Mapping)):
            notifications = tuple(notifications)  # a generator is read once, here
        problem = _settings_problem(name, labels, schedule, notifications, trigger)
        if problem is not None:
            raise DefinitionError(problem)
        self.name = name
        self.workflow = workflow
        self.module: str = getattr(workflow, "module", "")
        self.py_interface = workflow.py_interface
        self.default_inputs = dict(default_inputs or {})
        self.fixed_inputs = dict(fixed_inputs or {})
        self.schedule = schedule
        self.notifications = tuple(notifications)  # each checked above
        self.labels = dict(labels or {})
        with defining():  # the workflow's version stays provisional until the first use
            workflow_spec = self._workflow_spec()
        self._spec = LaunchPlanSpec(
            name=name,
            workflow=workflow_spec,
            default_inputs=self._serialise(self.default_inputs, "default_inputs"),
            fixed_inputs=self._serialise(self.fixed_inputs, "fixed_inputs"),
            schedule=schedule.spec if schedule is not None else None,
            notifications=tuple(n.spec for n in self.notifications),
            labels=self.labels,
            trigger=trigger,
        )
        problem = unattended_launch_problem(self._spec)
        if problem is not None:
            raise DefinitionError(problem)

    @property
    def spec(self) -> LaunchPlanSpec:
        """The serialisable spec, with the workflow's spec as of now: its versions are
        computed again at the first use after the definition (``airfoil.sdk._versioning``)."""
        workflow = self._workflow_spec()
        if workflow is not self._spec.workflow and workflow != self._spec.workflow:
            self._spec = msgspec.structs.replace(self._spec, workflow=workflow)
        return self._spec

    # --- definition-time checks ------------------------------------------------------------

    def _workflow_spec(self) -> WorkflowSpec:
        spec = getattr(self.workflow, "spec", None)
        if isinstance(spec, WorkflowSpec):
            return spec
        from airfoil.sdk._workflow import single_task_workflow

        return single_task_workflow(self.workflow)

    def _serialise(self, values: dict[str, Any], what: str) -> dict[str, Value]:
        types = self.py_interface.input_types
        unknown = sorted(set(values) - set(types))
        if unknown:
            raise DefinitionError(
                f"launch plan {self.name!r}: {what} name(s) {', '.join(map(repr, unknown))} "
                f"that {self.workflow.name} does not have; its inputs: "
                f"{', '.join(types) or 'none'}"
            )
        both = sorted(set(self.default_inputs) & set(self.fixed_inputs))
        if both:
            raise DefinitionError(
                f"launch plan {self.name!r}: input(s) {', '.join(map(repr, both))} are both "
                "default and fixed; choose one"
            )
        engine = type_engine()
        out: dict[str, Value] = {}
        for key, value in values.items():
            try:
                out[key] = _compile.literal_value(engine, value, types[key])
            except TypeTransformError as exc:
                raise DefinitionError(
                    f"launch plan {self.name!r}: {what}[{key!r}] does not fit the input's type "
                    f"{self.py_interface.interface.input(key).type}: {exc}"  # type: ignore[union-attr]
                ) from None
            from airfoil.types._binding import input_ints_problem

            # a preset input is a launch's input: the 64-bit rule of a run's inputs
            problem = input_ints_problem(value, f"{what}[{key!r}]", f"launch plan {self.name!r}")
            if problem is not None:
                raise DefinitionError(problem)
        return out

    # --- construction ----------------------------------------------------------------------

    @classmethod
    def get_or_create(
        cls,
        workflow: Any,
        name: str | None = None,
        *,
        default_inputs: Mapping[str, Any] | None = None,
        fixed_inputs: Mapping[str, Any] | None = None,
        schedule: Schedule | None = None,
        notifications: Iterable[Notification] = (),
        labels: Mapping[str, str] | None = None,
        trigger: ArtifactTriggerSpec | None = None,
    ) -> LaunchPlan:
        """The launch plan ``name`` of this process, created on first call.

        Args:
            workflow: the ``@workflow`` (or ``@task``) to launch.
            name: the plan's name; default the workflow's name (a plan with no presets).
            default_inputs: inputs a launch may override.
            fixed_inputs: inputs a launch may not override.
            schedule: a :class:`CronSchedule` or :class:`FixedRate`.
            notifications: :class:`Webhook` / :class:`LogNotification` to send when an
                execution of the plan ends.
            labels: labels put on every execution of the plan.
            trigger: :func:`on_artifact`: launch once per new version of an artifact.

        Raises:
            DefinitionError: an input name or type is wrong, the schedule leaves a required
                input unset, or ``name`` exists with other arguments.
        """
        plan = cls(
            workflow,
            name or workflow.name,
            default_inputs=default_inputs,
            fixed_inputs=fixed_inputs,
            schedule=schedule,
            notifications=notifications,
            labels=labels,
            trigger=trigger,
        )
        with _registry_lock:
            existing = _registry.get(plan.name)
            if existing is None or existing.workflow is not plan.workflow:
                # New, or its module was executed again (a re-import): the new plan wins.
                _registry[plan.name] = plan
                return plan
        if existing.spec != plan.spec:
            raise DefinitionError(
                f"launch plan {plan.name!r} already exists with other arguments: give the new "
                "one another name"
            )
        return existing

    @staticmethod
    def get(name: str) -> LaunchPlan:
        """A launch plan created in this process. Raises DefinitionError if there is none."""
        with _registry_lock:
            plan = _registry.get(name)
        if plan is None:
            raise DefinitionError(f"no launch plan named {name!r} was created in this process")
        return plan

    # --- running ---------------------------------------------------------------------------

    def __call__(self, **inputs: Any) -> Any:
        """Run the plan through the embedded engine; return the workflow's outputs.

        Called inside a workflow body, the plan is a node of that workflow (its workflow
        called with the plan's default and fixed inputs, the given ones overriding the
        defaults), as in flytekit: ``a = plan_a(); b = plan_b(); a >> b`` orders two plans
        without outputs. Nothing runs while the workflow is being built.

        Raises:
            InvalidInputError: an input is fixed, unknown, missing or ill-typed.
            ExecutionFailedError: the execution did not succeed.
            DefinitionError: inside a workflow body, a fixed input is given.
        """
        if _compile.active() is not None:
            return self._call_in_workflow(inputs)
        return local_runner().call_launch_plan(self, inputs)

    def _call_in_workflow(self, inputs: dict[str, Any]) -> Any:
        fixed = sorted(set(inputs) & set(self.fixed_inputs))
        if fixed:
            raise DefinitionError(
                f"launch plan {self.name!r} fixes input(s) {', '.join(map(repr, fixed))}: "
                "do not pass them (or call the workflow itself)",
                workflow=_compile.current_workflow_name(),
                location=_compile.current_location(),
            )
        merged = {**self.default_inputs, **self.fixed_inputs, **inputs}
        target = self.workflow
        if getattr(target, "_node_label", None) is None and hasattr(target, "with_name"):
            target = target.with_name(self.name)  # the node is labelled with the plan's name
        return target(**merged)

    def __repr__(self) -> str:
        return f"LaunchPlan({self.name} -> {self.workflow.name})"


def on_artifact(
    name: str,
    *,
    partition: Mapping[str, str] | None = None,
    version_input: str = "",
) -> ArtifactTriggerSpec:
    """A launch plan trigger: launch once per new version of the artifact ``name``.

    Args:
        name: the artifact (a registered model's name, or a name published with
            ``ModelRegistry.publish``).
        partition: only versions whose partitions hold these values fire (``"*"``: any value
            of that key).
        version_input: the workflow's ``int`` input that receives the new version number.

    Raises:
        DefinitionError: an empty name.
    """
    if not name or not name.strip():
        raise DefinitionError("on_artifact: name the artifact whose new versions fire the plan")
    return ArtifactTriggerSpec(
        artifact=name, partitions=dict(partition or {}), version_input_arg=version_input
    )


def _settings_problem(
    name: Any, labels: Any, schedule: Any, notifications: Any, trigger: Any
) -> str | None:  # notifications: a tuple by now, where it was any iterable
    """What is wrong with a plan's settings of the wrong type, or None. Each is stored in the
    plan's spec and copied into every execution it launches (``labels={"team": 1}`` made each
    record unreadable, so ``airfoil executions list`` failed for the whole home)."""
    if not isinstance(name, str):
        return f"a launch plan's name must be a string, got {name!r}"
    plan = f"launch plan {name!r}"
    if labels is not None:
        if not isinstance(labels, Mapping):
            return f"{plan}: labels must be a dict of strings to strings, got {labels!r}"
        for key, value in labels.items():
            if not isinstance(key, str) or not isinstance(value, str):
                return (
                    f"{plan}: labels must map strings to strings, got {key!r}: {value!r} "
                    f"(write {str(key)!r}: {str(value)!r})"
                )
    if schedule is not None and not isinstance(schedule, (CronSchedule, FixedRate)):
        return f"{plan}: schedule takes af.CronSchedule(...) or af.FixedRate(...), got {schedule!r}"
    if not isinstance(notifications, tuple):
        kinds = "af.Webhook / af.LogNotification"
        return f"{plan}: notifications takes a list of {kinds}, got {notifications!r}"
    for n in notifications:
        if not isinstance(n, (Webhook, LogNotification)):
            return (
                f"{plan}: notifications takes af.Webhook(...) / af.LogNotification(...), got {n!r}"
            )
    if trigger is not None and not isinstance(trigger, ArtifactTriggerSpec):
        return f"{plan}: trigger takes af.on_artifact(...), got {trigger!r}"
    return None
