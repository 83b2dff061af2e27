"""Launch plan records, and the one rule that merges a launch plan's inputs with a launch's.

A launch plan is a workflow with some inputs preset: *default* inputs a launch may override,
*fixed* inputs it may not, an optional schedule and notifications. Everything here is a frozen,
tagged msgspec record (stored by the scheduler, sent by the server) or a pure function, so a
launch is checked the same way whether it happens in a local call, the scheduler loop or the
server.

Invariants:

- :func:`merge_launch_inputs` is the only place launch inputs are merged: locally it is applied
  to Python values before they are converted, remotely to :class:`Value` records. Overriding a
  fixed input is a :class:`FixedInputError` (an
  :class:`~airfoil.core.errors.InvalidInputError`) that names the input.
- A schedule's instants are absolute (epoch seconds); its time zone only decides which
  instants a cron expression names (see :mod:`airfoil.engine.schedules`).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Literal, TypeVar

import msgspec

from airfoil.core.errors import InvalidInputError
from airfoil.core.records import Interface, Value, WorkflowSpec

__all__ = [
    "INTERNAL_NETWORKS",
    "NOTIFY_ANOMALY",
    "NOTIFY_PHASES",
    "ArtifactTriggerSpec",
    "CronScheduleSpec",
    "FixedInputError",
    "FixedRateSpec",
    "LaunchPlanSpec",
    "NotificationSpec",
    "ScheduleSpec",
    "cron_fields_problem",
    "fixed_rate_problem",
    "merge_launch_inputs",
    "notification_problem",
    "unattended_launch_problem",
]

#: The terminal phases a notification may be sent on.
NOTIFY_PHASES = ("succeeded", "failed", "aborted")
#: A notification trigger besides the phases: the ended execution has attempts far from
#: their task version's history (``airfoil.core.history``), whatever its phase.
NOTIFY_ANOMALY = "anomaly"

V = TypeVar("V")


class FixedInputError(InvalidInputError):
    """A launch gave an input its launch plan fixes (the server answers 422 ``fixed_input``)."""


#: What a schedule's instant does while the previous instant's run has not ended.
Overlap = Literal["allow", "skip"]
OVERLAPS: tuple[str, ...] = ("allow", "skip")


class CronScheduleSpec(msgspec.Struct, frozen=True, omit_defaults=True, tag="cron"):
    """Fire at the instants a 5-field cron expression names, read in a time zone.

    Attributes:
        expression: ``"minute hour day-of-month month day-of-week"`` (``"0 3 * * *"``).
        timezone: an IANA zone (``"Europe/Paris"``); ``"UTC"`` by default.
        kickoff_time_input_arg: the workflow input (a ``datetime``) that receives the
            scheduled instant, or ``""`` for none.
        overlap: what an instant does while the run of the previous one is still going:
            ``"allow"`` (the default: it launches anyway) or ``"skip"`` (it launches
            nothing; the loop logs the skip and the next instant tries again).
    """

    expression: str
    timezone: str = "UTC"
    kickoff_time_input_arg: str = ""
    overlap: Overlap = "allow"


class FixedRateSpec(msgspec.Struct, frozen=True, omit_defaults=True, tag="fixed_rate"):
    """Fire every ``interval_s`` seconds, on multiples of the interval since the Unix epoch
    (so one hour fires on the hour, UTC), whatever the activation time.

    Attributes:
        interval_s: seconds between firings (positive).
        kickoff_time_input_arg: the workflow input (a ``datetime``, UTC) that receives the
            scheduled instant, or ``""`` for none.
        overlap: ``"allow"`` or ``"skip"``, as for :class:`CronScheduleSpec`.
    """

    interval_s: float
    kickoff_time_input_arg: str = ""
    overlap: Overlap = "allow"


ScheduleSpec = CronScheduleSpec | FixedRateSpec


class ArtifactTriggerSpec(msgspec.Struct, frozen=True, omit_defaults=True, tag="artifact"):
    """Launch once per new version of a named artifact (retrain when a data partition lands,
    batch-predict when a model is registered).

    Attributes:
        artifact: the artifact's name (``"digits"``, ``"daily_events"``).
        partitions: only versions whose partitions hold these values fire (a value ``"*"``
            only needs the key to be there); ``{}``: every version.
        version_input_arg: the workflow input (an ``int``) that receives the new version's
            number, or ``""`` for none.
    """

    artifact: str
    partitions: dict[str, str] = {}
    version_input_arg: str = ""


class NotificationSpec(msgspec.Struct, frozen=True, omit_defaults=True):
    """Where to report an execution of a launch plan that ended in one of ``phases``.

    Attributes:
        kind: ``"webhook"`` (POST Slack-compatible JSON ``{"text": ...}`` to ``url``) or
            ``"log"`` (one log line on the ``airfoil.notifications`` logger).
        phases: the terminal phases that trigger it (subset of :data:`NOTIFY_PHASES`), and
            :data:`NOTIFY_ANOMALY` to send it (the anomalies listed) when an execution ends
            with attempts far from their history.
        url: the webhook URL, for ``webhook``.
        timeout_s: how long a webhook call may take before it is given up.
    """

    kind: str
    phases: tuple[str, ...] = NOTIFY_PHASES
    url: str = ""
    timeout_s: float = 5.0


#: The shortest FixedRate interval, one second: the SDK, the server's registration and the
#: scheduler loop all apply :func:`fixed_rate_problem`, so a plan the SDK refuses is refused
#: when sent as JSON too (and a faster one stored by an older version is paused, not fired).
MIN_FIXED_RATE_S = 1.0

#: The longest FixedRate interval, a century: the instants of a longer one fall past the
#: years a datetime can hold (year 9999), and every listing of the schedules failed on them.
MAX_FIXED_RATE_S = 100 * 366 * 86400.0


def fixed_rate_problem(interval_s: float) -> str | None:
    """What is wrong with a FixedRate interval of ``interval_s`` seconds, or None.

    The one rule for every layer that takes an interval: the SDK's ``FixedRate``, a plan
    registered through the API, and a schedule the loop fires.
    """
    if not (math.isfinite(interval_s) and MIN_FIXED_RATE_S <= interval_s <= MAX_FIXED_RATE_S):
        return (
            f"a FixedRate interval must be between {MIN_FIXED_RATE_S:g}s and 100 years "
            f"({MAX_FIXED_RATE_S:.0f}s), got {interval_s:g}s"
        )
    return None


def cron_fields_problem(expression: str) -> str | None:
    """What is wrong with a cron expression's number of fields (``None``: nothing).

    The cron library also reads a sixth field, as seconds: ``*/5 * * * * *`` would fire
    every five seconds (17,280 executions a day), and a Quartz or AWS expression of six
    fields would mean another time than its writer's. Five fields only, and no
    ``CRON_TZ=`` prefix (the time zone is the schedule's own field).
    """
    head, _, rest = expression.strip().partition(" ")
    if head.startswith(("CRON_TZ=", "TZ=")):  # Debian cron's (and flytekit's) zone prefix
        return (
            f"{expression!r} names its time zone in the expression: give it as timezone= "
            f"instead, CronSchedule({rest.strip()!r}, timezone={head.partition('=')[2]!r})"
        )
    if len(expression.split()) == 6:
        return (
            f"invalid cron expression {expression!r}: six fields (a seconds field) are not "
            "supported: use five, minute hour day-of-month month day-of-week, e.g. "
            "'0 3 * * *' (FixedRate for intervals)"
        )
    return None


#: The networks a server's webhooks may not reach unless its operator allows them
#: (``AIRFOIL_WEBHOOK_ALLOWED_NETWORKS``, :mod:`airfoil.engine.webhooks`), each with what it
#: is: the cloud metadata services (whose answers hold the machine's credentials), the
#: server's own loopback, private and other non-public networks -- what only the server can
#: reach, and a registrant of a launch plan should not reach through it.
INTERNAL_NETWORKS: tuple[tuple[str, str], ...] = (
    ("169.254.0.0/16", "link-local network (where AWS, GCP and Azure serve instance metadata)"),
    ("fd00:ec2::254/128", "cloud metadata address (AWS, IPv6)"),
    ("100.100.100.200/32", "cloud metadata address (Alibaba Cloud)"),
    ("fe80::/10", "link-local network"),
    ("127.0.0.0/8", "loopback network (the server's own ports)"),
    ("::1/128", "loopback address (the server's own ports)"),
    ("0.0.0.0/8", "'this host' network"),
    ("::/128", "unspecified address"),
    ("10.0.0.0/8", "private network"),
    ("172.16.0.0/12", "private network"),
    ("192.168.0.0/16", "private network"),
    ("fc00::/7", "private (unique local) network"),
    ("fec0::/10", "private (site-local) network"),
    ("100.64.0.0/10", "shared (carrier-grade NAT) network"),
    ("192.0.0.0/24", "IETF protocol network"),
    ("198.18.0.0/15", "benchmarking network"),
    ("224.0.0.0/4", "multicast network"),
    ("240.0.0.0/4", "reserved network"),
    ("ff00::/8", "multicast network"),
    ("::/96", "IPv4-compatible network"),
    ("64:ff9b::/96", "NAT64 network (an IPv4 address written as IPv6)"),
    ("64:ff9b:1::/48", "NAT64 network (an IPv4 address written as IPv6)"),
    ("2002::/16", "6to4 network (an IPv4 address written as IPv6)"),
)

#: The longest a webhook call may take: it is made by whoever ended the execution (on a
#: server, a driver slot), so one slow endpoint must not hold that for long.
MAX_WEBHOOK_TIMEOUT_S = 60.0


def notification_problem(n: NotificationSpec) -> str | None:
    """What is wrong with a notification (``None``: nothing), checked wherever a plan is
    defined: by ``af.Webhook`` and by a server registering a plan's spec as sent.

    A webhook needs an ``http(s)://`` URL with a host (the call is made by the process that
    ended the execution, a server's included: a ``file://`` or ``ftp://`` URL would have it
    open a local file or another protocol) and a timeout in (0, 60] seconds; phases are
    :data:`NOTIFY_PHASES` and :data:`NOTIFY_ANOMALY`.
    """
    if n.kind not in ("webhook", "log"):
        return f"unknown notification kind {n.kind!r}: use 'webhook' or 'log'"
    unknown = [p for p in n.phases if p not in (*NOTIFY_PHASES, NOTIFY_ANOMALY)]
    if unknown:
        return f"unknown notification phase(s) {unknown}: use {[*NOTIFY_PHASES, NOTIFY_ANOMALY]}"
    if n.kind == "log":
        return None
    scheme, sep, rest = n.url.partition("://")
    host = rest.split("/", 1)[0].rsplit("@", 1)[-1]
    if not sep or scheme.lower() not in ("http", "https") or not host.strip(":"):
        return f"a webhook needs an http(s) URL with a host, got {n.url!r}"
    if not (0 < n.timeout_s <= MAX_WEBHOOK_TIMEOUT_S):  # also refuses NaN
        return (
            f"a webhook's timeout_s must be above 0 and at most {MAX_WEBHOOK_TIMEOUT_S:g} "
            f"seconds, got {n.timeout_s}"
        )
    return None


class LaunchPlanSpec(msgspec.Struct, frozen=True, omit_defaults=True, tag="launch_plan"):
    """A workflow with preset inputs, an optional schedule and notifications.

    Attributes:
        name: the launch plan's name (unique per project and domain).
        workflow: the workflow it launches (a task is wrapped in a one-node workflow).
        default_inputs: inputs a launch may override.
        fixed_inputs: inputs a launch may not override.
        schedule: when the scheduler launches it on its own, if ever.
        notifications: what to report when an execution of it ends.
        labels: labels put on each execution it launches.
        trigger: launch it once per new version of an artifact (instead of a schedule).
    """

    name: str
    workflow: WorkflowSpec
    default_inputs: dict[str, Value] = {}
    fixed_inputs: dict[str, Value] = {}
    schedule: CronScheduleSpec | FixedRateSpec | None = None
    notifications: tuple[NotificationSpec, ...] = ()
    labels: dict[str, str] = {}
    trigger: ArtifactTriggerSpec | None = None


def unattended_launch_problem(spec: LaunchPlanSpec) -> str | None:
    """What stops a plan that launches on its own (a schedule, an artifact trigger) from
    launching (``None``: nothing): checked by ``af.LaunchPlan`` and by a server registering a
    plan's spec as sent, so a bad plan is refused when it is defined, not when it fires.

    The input that receives the launch's value (``kickoff_time_input_arg``, a ``datetime``;
    ``version_input_arg``, an ``int``) must be an input of that type and not fixed, every
    other required input needs a value, and a plan has a schedule or a trigger, not both.
    """
    if spec.schedule is not None and spec.trigger is not None:
        return f"launch plan {spec.name!r}: give a schedule or an artifact trigger, not both"
    if spec.schedule is not None:
        arg = spec.schedule.kickoff_time_input_arg
        naming, role, source = (
            f"kickoff_time_input_arg={arg!r}",
            "the kickoff time input",
            "a schedule",
        )
        kind = "datetime"
    elif spec.trigger is not None:
        arg = spec.trigger.version_input_arg
        naming, role = f"on_artifact(version_input={arg!r})", "the version input"
        source, kind = "an artifact trigger", "int"
    else:
        return None
    iface = spec.workflow.interface
    if arg:
        param = iface.input(arg)
        if param is None or param.type.kind != kind:
            article = "an" if kind[0] in "aeiou" else "a"
            return (
                f"launch plan {spec.name!r}: {naming} must name {article} {kind} input of "
                f"{spec.workflow.name}; its inputs: "
                + (", ".join(f"{p.name}: {p.type}" for p in iface.inputs) or "none")
            )
        if arg in spec.fixed_inputs:
            return f"launch plan {spec.name!r}: {role} {arg!r} cannot also be a fixed input"
    unset = [
        p.name
        for p in iface.inputs
        if not p.has_default
        and p.name not in spec.default_inputs
        and p.name not in spec.fixed_inputs
        and p.name != arg
    ]
    if unset:
        return (
            f"launch plan {spec.name!r} has {source} but no value for required input(s) "
            f"{', '.join(map(repr, unset))}: give them as default_inputs or fixed_inputs"
        )
    return None


def merge_launch_inputs(
    interface: Interface,
    *,
    launch_plan: str,
    defaults: Mapping[str, V],
    fixed: Mapping[str, V],
    given: Mapping[str, V],
) -> dict[str, V]:
    """Merge a launch's inputs with a launch plan's defaults and fixed inputs.

    Works on any value representation (Python values before conversion, or stored
    :class:`Value` records): it only decides which input comes from where.

    Args:
        interface: the launched workflow's interface.
        launch_plan: the launch plan's name, for messages.
        defaults: the plan's default inputs (a launch may override them).
        fixed: the plan's fixed inputs (a launch may not).
        given: the inputs of this launch.

    Returns:
        ``defaults``, overridden by ``given``, plus ``fixed``: every input the launch sets.
        Inputs left to the workflow's own defaults are absent.

    Raises:
        InvalidInputError: ``given`` overrides a fixed input, names an input the workflow
            does not have, or a required input is set by nobody.
    """
    names = [p.name for p in interface.inputs]
    overridden = sorted(set(given) & set(fixed))
    if overridden:
        which = ", ".join(map(repr, overridden))
        raise FixedInputError(
            f"launch plan {launch_plan!r} fixes input(s) {which}: a launch cannot override a "
            "fixed input. Leave it out, or define another launch plan (or make it a "
            "default_input) to change it"
        )
    unknown = sorted(set(given) - set(names))
    if unknown:
        raise InvalidInputError(
            f"launch plan {launch_plan!r} has no input(s) {', '.join(map(repr, unknown))}; "
            f"its workflow's inputs: {', '.join(names) or 'none'}"
        )
    merged: dict[str, V] = {**defaults, **given, **fixed}
    missing = [p for p in interface.inputs if p.name not in merged and not p.has_default]
    if missing:
        which = ", ".join(f"{p.name!r} ({p.type})" for p in missing)
        flags = " ".join(f"--{p.name.replace('_', '-')} VALUE" for p in missing)
        raise InvalidInputError(
            f"launch plan {launch_plan!r} needs input(s) {which}: give them to the launch "
            f"(on the CLI: {flags}) or as default_inputs of the launch plan"
        )
    return merged
