"""flytekit's launch plans, schedules and notifications on Airfoil's.

``LaunchPlan.get_or_create(workflow, name, default_inputs=..., fixed_inputs=...,
schedule=CronSchedule(schedule="0 * * * *"), notifications=[Email(...)])`` makes an Airfoil
:class:`~airfoil.LaunchPlan`; an Airfoil server runs its schedule (``airfoil schedules``).
Email / Slack / PagerDuty notifications become log notifications for the same phases (Airfoil
has no mail or chat senders; use :class:`~airfoil.Webhook` for a real push).
"""

from __future__ import annotations

import datetime as dt
import enum
from collections.abc import Iterable, Mapping
from typing import Any

from airfoil.core.errors import DefinitionError
from airfoil.sdk import _launch_plan as _lp

__all__ = [
    "Annotations",
    "Labels",
    "CronSchedule",
    "Email",
    "FixedRate",
    "LaunchPlan",
    "PagerDuty",
    "Slack",
    "WorkflowExecutionPhase",
]


class WorkflowExecutionPhase(enum.IntEnum):
    """flytekit's execution phases (the ones a notification can name)."""

    UNDEFINED = 0
    QUEUED = 1
    RUNNING = 2
    SUCCEEDING = 3
    SUCCEEDED = 4
    FAILING = 5
    FAILED = 6
    ABORTED = 7
    TIMED_OUT = 8
    ABORTING = 9


_PHASES = {
    WorkflowExecutionPhase.SUCCEEDED: "succeeded",
    WorkflowExecutionPhase.FAILED: "failed",
    WorkflowExecutionPhase.TIMED_OUT: "failed",
    WorkflowExecutionPhase.ABORTED: "aborted",
}


def _phases(phases: Iterable[Any], what: str) -> list[str]:
    out: list[str] = []
    for p in phases:
        try:
            name = _PHASES[WorkflowExecutionPhase(p)]
        except (KeyError, ValueError):
            raise DefinitionError(
                f"{what}: Airfoil notifies when an execution ends: use "
                "WorkflowExecutionPhase.SUCCEEDED, FAILED, TIMED_OUT or ABORTED, not "
                f"{p!r}"
            ) from None
        if name not in out:
            out.append(name)
    return out


def _notification(kind: str) -> type:
    def __init__(self: Any, phases: Iterable[Any], recipients_email: Iterable[str] = ()) -> None:
        self.phases = list(phases)
        self.recipients_email = list(recipients_email)
        self.airfoil = _lp.LogNotification(phases=_phases(self.phases, kind))

    doc = (
        f"flytekit's ``{kind}`` notification: recorded, and sent to the execution's log for "
        "its phases (Airfoil has no mail or chat sender; use airfoil.Webhook to push)."
    )
    return type(kind, (), {"__init__": __init__, "__doc__": doc})


Email = _notification("Email")
Slack = _notification("Slack")
PagerDuty = _notification("PagerDuty")


def CronSchedule(
    schedule: str | None = None,
    kickoff_time_input_arg: str | None = None,
    *,
    cron_expression: str | None = None,
    offset: str | None = None,
    overlap: str = "allow",
) -> _lp.CronSchedule:
    """flytekit's ``CronSchedule(schedule="0 3 * * *", kickoff_time_input_arg="t")``; a
    leading ``CRON_TZ=Europe/Paris`` sets the time zone; ``@hourly``/``@daily``/``@weekly``/
    ``@monthly``/``@yearly`` are accepted. ``overlap="skip"`` (Airfoil's, for flytekit's
    ``concurrency=`` on the plan) launches nothing while the previous instant's run goes on.

    Raises:
        DefinitionError: a malformed expression, or an ``offset`` (not supported).
    """
    expression = schedule or cron_expression
    if not expression:
        raise DefinitionError("CronSchedule needs schedule='minute hour day month weekday'")
    if offset:
        raise DefinitionError(
            "CronSchedule(offset=...) is not supported: shift the cron expression instead"
        )
    timezone = "UTC"
    text = expression.strip()
    if text.startswith("CRON_TZ="):
        zone, _, text = text.partition(" ")
        timezone = zone.removeprefix("CRON_TZ=")
    text = _ALIASES.get(text.lower(), text)
    return _lp.CronSchedule(
        text.strip(),
        timezone=timezone,
        kickoff_time_input_arg=kickoff_time_input_arg,
        overlap=overlap,
    )


_ALIASES = {
    "@hourly": "0 * * * *",
    "@daily": "0 0 * * *",
    "@weekly": "0 0 * * 0",
    "@monthly": "0 0 1 * *",
    "@yearly": "0 0 1 1 *",
    "@annually": "0 0 1 1 *",
}


def FixedRate(
    duration: dt.timedelta, kickoff_time_input_arg: str | None = None, *, overlap: str = "allow"
) -> _lp.FixedRate:
    """flytekit's ``FixedRate(duration=timedelta(hours=1))`` (``overlap`` as for
    :func:`CronSchedule`)."""
    return _lp.FixedRate(duration, kickoff_time_input_arg=kickoff_time_input_arg, overlap=overlap)


def _notifications(items: Any) -> list[Any]:
    if items is None:
        return []
    if not isinstance(items, list | tuple):
        items = [items]
    out = []
    for n in items:
        inner = getattr(n, "airfoil", n)
        if not isinstance(inner, _lp.Webhook | _lp.LogNotification):
            raise DefinitionError(
                f"notifications take Email / Slack / PagerDuty (or airfoil.Webhook), not {n!r}"
            )
        out.append(inner)
    return out


class Labels:
    """flytekit's ``Labels({"team": "ml"})`` for ``labels=``."""

    def __init__(self, values: Mapping[str, str]) -> None:
        self.values = dict(values)


class Annotations:
    """flytekit's ``Annotations({...})`` for ``annotations=`` (recorded)."""

    def __init__(self, values: Mapping[str, str]) -> None:
        self.values = dict(values)


class LaunchPlan(_lp.LaunchPlan):
    """flytekit's ``LaunchPlan``: ``get_or_create``, ``create``, ``get_default_launch_plan``.

    Options with no local meaning (``raw_output_data_config``, ``security_context``,
    ``auth_role``, ``max_parallelism``, ``annotations``) are accepted and recorded in
    :attr:`flyte_options`. Those whose absence would change what runs (``overwrite_cache=True``,
    ``auto_activate=True``, a ``trigger``, a ``concurrency`` policy) are a
    :class:`~airfoil.core.errors.DefinitionError` saying what to do instead; any other keyword
    is a ``TypeError``, as in flytekit.
    """

    @classmethod
    def get_or_create(  # type: ignore[override]
        cls,
        workflow: Any,
        name: str | None = None,
        default_inputs: Mapping[str, Any] | None = None,
        fixed_inputs: Mapping[str, Any] | None = None,
        schedule: Any = None,
        notifications: Any = None,
        labels: Any = None,
        annotations: Any = None,
        raw_output_data_config: Any = None,
        max_parallelism: int | None = None,
        security_context: Any = None,
        auth_role: Any = None,
        trigger: Any = None,
        overwrite_cache: bool | None = None,
        auto_activate: bool = False,
        concurrency: Any = None,
    ) -> LaunchPlan:
        plan_name = str(name or getattr(workflow, "name", "?"))
        _refuse_unhonoured(plan_name, trigger, overwrite_cache, auto_activate, concurrency)
        plan = super().get_or_create(
            workflow,
            name,
            default_inputs=default_inputs,
            fixed_inputs=fixed_inputs,
            schedule=schedule,
            notifications=_notifications(notifications),
            labels=_labels(labels),
        )
        vars(plan)["flyte_options"] = {
            "annotations": annotations,
            "raw_output_data_config": raw_output_data_config,
            "max_parallelism": max_parallelism,
            "security_context": security_context,
            "auth_role": auth_role,
        }
        return plan  # type: ignore[return-value]

    @classmethod
    def create(cls, name: str, workflow: Any, **options: Any) -> LaunchPlan:
        """flytekit's ``LaunchPlan.create(name, workflow, ...)``: the keywords of
        :meth:`get_or_create` (any other is a ``TypeError``)."""
        return cls.get_or_create(workflow, name, **options)

    @classmethod
    def get_default_launch_plan(cls, ctx: Any, workflow: Any) -> LaunchPlan:
        """The plan with the workflow's own name and no presets (``ctx`` is ignored)."""
        return cls.get_or_create(workflow)


def _refuse_unhonoured(
    plan: str, trigger: Any, overwrite_cache: Any, auto_activate: Any, concurrency: Any
) -> None:
    """Refuse the options a Flyte cluster honours and Airfoil cannot, whose absence would
    change what runs (never recorded silently)."""
    what = f"LaunchPlan {plan!r}"
    if overwrite_cache:
        raise DefinitionError(
            f"{what}: overwrite_cache=True is not supported (Airfoil's cache is keyed by the "
            "inputs' content and the task's code version, and a launch cannot bypass it): to "
            "recompute, give the task a new cache_version (or cache=False), or call it with "
            ".with_overrides(cache=False) in the workflow"
        )
    if auto_activate:
        raise DefinitionError(
            f"{what}: auto_activate=True is not supported (registering a plan does not "
            "activate its schedule): leave it out and run `airfoil schedules activate FILE "
            "PLAN` (with --remote for a server) once the plan is registered"
        )
    if trigger is not None:
        raise DefinitionError(
            f"{what}: trigger= (Union's artifact triggers) is not supported: use Airfoil's "
            "own launch plan, af.LaunchPlan.get_or_create(..., trigger=af.on_artifact(NAME)) "
            "(see docs/models.md)"
        )
    if concurrency is not None:
        raise DefinitionError(
            f"{what}: concurrency= is not supported: a schedule that must not overlap its "
            'previous run takes CronSchedule(..., overlap="skip") (or FixedRate(..., '
            'overlap="skip")); Airfoil has no limit on concurrent launches of a plan'
        )


def _labels(labels: Any) -> dict[str, str] | None:
    if labels is None:
        return None
    values = getattr(labels, "values", labels)
    return {str(k): str(v) for k, v in dict(values).items()}
