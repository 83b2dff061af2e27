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
) -> _lp.CronSchedule:
    """flytekit's ``CronSchedule(schedule="0 3 * * *", kickoff_time_input_arg="t")``; a
    leading ``CRON_TZ=Europe/Paris`` sets the time zone; ``@hourly``/``@daily``/``@weekly``/
    ``@monthly``/``@yearly`` are accepted.

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
        text.strip(), timezone=timezone, kickoff_time_input_arg=kickoff_time_input_arg
    )


_ALIASES = {
    "@hourly": "0 * * * *",
    "@daily": "0 0 * * *",
    "@weekly": "0 0 * * 0",
    "@monthly": "0 0 1 * *",
    "@yearly": "0 0 1 1 *",
    "@annually": "0 0 1 1 *",
}


def FixedRate(duration: dt.timedelta, kickoff_time_input_arg: str | None = None) -> _lp.FixedRate:
    """flytekit's ``FixedRate(duration=timedelta(hours=1))``."""
    return _lp.FixedRate(duration, kickoff_time_input_arg=kickoff_time_input_arg)


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
    ``auth_role``, ``max_parallelism``, ``annotations``...) are accepted and recorded in
    :attr:`flyte_options`.
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
        **options: Any,
    ) -> LaunchPlan:
        plan = super().get_or_create(
            workflow,
            name,
            default_inputs=default_inputs,
            fixed_inputs=fixed_inputs,
            schedule=schedule,
            notifications=_notifications(notifications),
            labels=_labels(labels),
        )
        vars(plan)["flyte_options"] = {"annotations": annotations, **options}
        return plan  # type: ignore[return-value]

    @classmethod
    def create(
        cls,
        name: str,
        workflow: Any,
        default_inputs: Mapping[str, Any] | None = None,
        fixed_inputs: Mapping[str, Any] | None = None,
        schedule: Any = None,
        notifications: Any = None,
        labels: Any = None,
        annotations: Any = None,
        **options: Any,
    ) -> LaunchPlan:
        return cls.get_or_create(
            workflow,
            name,
            default_inputs=default_inputs,
            fixed_inputs=fixed_inputs,
            schedule=schedule,
            notifications=notifications,
            labels=labels,
            annotations=annotations,
            **options,
        )

    @classmethod
    def get_default_launch_plan(cls, ctx: Any, workflow: Any) -> LaunchPlan:
        """The plan with the workflow's own name and no presets (``ctx`` is ignored)."""
        return cls.get_or_create(workflow)


def _labels(labels: Any) -> dict[str, str] | None:
    if labels is None:
        return None
    values = getattr(labels, "values", labels)
    return {str(k): str(v) for k, v in dict(values).items()}
