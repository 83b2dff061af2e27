"""What is due: the pure computation of a schedule's instants. No I/O, no clock.

A schedule names absolute instants (epoch seconds):

- :class:`~airfoil.core.launch_plans.CronScheduleSpec`: the instants a cron expression names
  in its time zone, with daylight-saving changes handled as Debian's cron does (through
  ``cronsim``): a fixed-time job (``0 3 * * *``) fires exactly once per matching day, even
  on the change days; a time skipped by the spring-forward change (``30 2 * * *`` in
  Europe/Paris on 2026-03-29) fires at the first valid instant after the gap (03:00 CEST); a
  time repeated by the fall-back change fires once, at its first occurrence. Jobs whose hour
  field is ``*`` follow the real clock: they fire in both passes of a repeated hour, and not
  at all in a skipped one.
- :class:`~airfoil.core.launch_plans.FixedRateSpec`: every multiple of the interval since the
  Unix epoch, so the instants do not depend on when the schedule was activated (a backfill
  and the loop agree on them).

Invariants:

- :func:`next_fire_after` is strictly increasing: ``next_fire_after(s, t) > t``, and
  iterating it from any ``t`` yields the same instants as :func:`fire_times`.
- :func:`scheduled_execution_id` is a pure function of the launch plan and the instant, so
  launching the same instant twice (two loops, a backfill run twice) names the same execution.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterator
from datetime import UTC, datetime
from functools import lru_cache
from typing import TYPE_CHECKING

from airfoil.core.errors import ConfigError
from airfoil.core.ids import stable_hash
from airfoil.core.launch_plans import (
    CronScheduleSpec,
    FixedRateSpec,
    ScheduleSpec,
    cron_fields_problem,
    fixed_rate_problem,
)

if TYPE_CHECKING:
    from zoneinfo import ZoneInfo

__all__ = [
    "describe_schedule",
    "fire_times",
    "kickoff_datetime",
    "newest_fire_times",
    "next_fire_after",
    "schedule_problem",
    "scheduled_execution_id",
    "validate_schedule",
]

#: At most this many instants are listed by one :func:`fire_times` call (a typo such as
#: ``* * * * *`` over a year would otherwise mean half a million launches).
MAX_INSTANTS = 10_000

#: The span a range of instants may cover: from the Unix epoch (FixedRate counts from it)
#: to the last year whose instants a datetime can hold with a day to spare.
FIRST_INSTANT = 0.0
LAST_INSTANT = datetime(9998, 12, 31, tzinfo=UTC).timestamp()


@lru_cache(maxsize=64)
def _zone(name: str) -> ZoneInfo:
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ConfigError(
            f"unknown time zone {name!r} ({exc}): use an IANA name such as 'Europe/Paris' or 'UTC'"
        ) from None


def validate_schedule(schedule: ScheduleSpec) -> None:
    """Check that a schedule can produce instants.

    Raises:
        ConfigError: a malformed cron expression, an unknown time zone, or a non-positive
            interval.
    """
    if isinstance(schedule, FixedRateSpec):
        problem = fixed_rate_problem(schedule.interval_s)
        if problem is not None:
            raise ConfigError(problem)
        return
    from cronsim import CronSim, CronSimError

    zone = _zone(schedule.timezone)
    problem = cron_fields_problem(schedule.expression)
    if problem is not None:
        raise ConfigError(problem)
    try:
        CronSim(schedule.expression, datetime(2000, 1, 1, tzinfo=zone))
    except CronSimError as exc:
        raise ConfigError(
            f"invalid cron expression {schedule.expression!r}: {exc} (expected five fields: "
            "minute hour day-of-month month day-of-week, e.g. '0 3 * * *')"
        ) from None


def schedule_problem(schedule: ScheduleSpec | None) -> str:
    """Why a stored schedule cannot fire (``""``: it can).

    A schedule stored before a rule tightened (a FixedRate under a second, or past a
    century, registered by an older version) is listed and shown with this reason, and the
    loop pauses it, rather than every listing or pass failing on it.
    """
    if schedule is None:
        return ""
    try:
        validate_schedule(schedule)
    except ConfigError as exc:
        return str(exc)
    return ""


def next_fire_after(schedule: ScheduleSpec, after: float) -> float:
    """The first instant of ``schedule`` strictly after ``after`` (epoch seconds).

    Raises:
        ConfigError: the schedule is invalid (see :func:`validate_schedule`).
    """
    if isinstance(schedule, FixedRateSpec):
        validate_schedule(schedule)
        step = schedule.interval_s
        k = math.floor(after / step) + 1
        # Floating point: make sure the result is strictly after ``after``.
        while k * step <= after:
            k += 1
        return float(k * step)
    return next(_cron_iter(schedule, after))


def _cron_iter(schedule: CronScheduleSpec, after: float) -> Iterator[float]:
    from cronsim import CronSim, CronSimError

    zone = _zone(schedule.timezone)
    problem = cron_fields_problem(schedule.expression)  # a spec registered as JSON
    if problem is not None:
        raise ConfigError(problem)
    start = datetime.fromtimestamp(after, tz=UTC).astimezone(zone)
    try:
        sim = CronSim(schedule.expression, start)
    except CronSimError as exc:
        raise ConfigError(f"invalid cron expression {schedule.expression!r}: {exc}") from None
    last = after
    for moment in sim:
        instant = moment.timestamp()
        # cronsim yields strictly later wall times; across a DST change two wall times can
        # name one instant (a skipped time moved to the end of the gap): yield it once.
        if instant > last:
            last = instant
            yield instant


def fire_times(
    schedule: ScheduleSpec, start: float, end: float, *, limit: int = MAX_INSTANTS
) -> list[float]:
    """Every instant of ``schedule`` in ``[start, end]`` (both inclusive), oldest first.

    Raises:
        ConfigError: the schedule is invalid, ``end < start``, or the range holds more than
            ``limit`` instants.
    """
    if end < start:
        raise ConfigError("the end of a range of instants comes before its start")
    if start < FIRST_INSTANT or end > LAST_INSTANT:
        # Past these the instants cannot be written as datetimes (OverflowError, "year 0 is
        # out of range" tracebacks from the backfill)
        raise ConfigError(
            "a range of instants lies between 1970-01-01 and 9998-12-31 (UTC): narrow it"
        )
    out: list[float] = []
    if isinstance(schedule, FixedRateSpec):
        t = next_fire_after(schedule, start - schedule.interval_s)
        while t < start:  # floating point
            t = next_fire_after(schedule, t)
        iterator: Iterator[float] = _fixed_iter(schedule, t)
    else:
        iterator = _cron_iter(schedule, start - 1e-6)
    for t in iterator:
        if t > end:
            break
        if len(out) == limit:
            raise ConfigError(
                f"the range holds more than {limit} instants of the schedule: narrow it"
            )
        out.append(t)
    return out


def newest_fire_times(
    schedule: ScheduleSpec, start: float, end: float, *, count: int
) -> list[float]:
    """The newest ``count`` instants of ``schedule`` in ``[start, end]``, oldest first (all
    of them when the range holds fewer): the same instants :func:`fire_times` lists, found
    without walking the range from its start (a loop down for a year on a one-minute cron
    would walk half a million instants to reach the last hundred).

    Raises:
        ConfigError: the schedule is invalid, or the range lies outside the instants a
            datetime can hold.
    """
    if count <= 0 or end < start:
        return []
    if isinstance(schedule, FixedRateSpec):
        validate_schedule(schedule)
        step = schedule.interval_s
        # half a step of slack each side: fire_times lists the exact instants in between
        first = max(start, (math.floor(end / step) - count + 0.5) * step)
        return fire_times(schedule, first, end, limit=count + 2)[-count:]
    # A cron schedule: walk back from ``end`` to the ``count``-th newest instant, then list
    # forward from there with the forward walk that defines the instants. Around a
    # daylight-saving change the two walks can disagree on an instant (a skipped or repeated
    # hour), so a margin is walked back, widened until the forward list is long enough.
    margin = 2
    while True:
        back = _cron_newest(schedule, start, end, count + margin)
        instants = fire_times(schedule, back, end, limit=2 * (count + margin) + 4)
        if len(instants) >= count or back <= start:
            return instants[-count:]
        margin *= 4


def _cron_newest(schedule: CronScheduleSpec, start: float, end: float, count: int) -> float:
    """The ``count``-th newest instant in ``[start, end]`` walking back (``start`` when the
    range holds fewer)."""
    from cronsim import CronSim, CronSimError

    zone = _zone(schedule.timezone)
    problem = cron_fields_problem(schedule.expression)
    if problem is not None:
        raise ConfigError(problem)
    if start < FIRST_INSTANT or end > LAST_INSTANT:
        return start  # fire_times names the problem
    # cronsim's reverse walk excludes its starting time when it has no microseconds: start
    # a second past ``end`` (instants are whole minutes) so an instant at ``end`` is listed.
    origin = datetime.fromtimestamp(math.floor(end) + 1, tz=UTC).astimezone(zone)
    try:
        sim = CronSim(schedule.expression, origin, reverse=True)
    except CronSimError as exc:
        raise ConfigError(f"invalid cron expression {schedule.expression!r}: {exc}") from None
    found = 0
    for moment in sim:
        instant = moment.timestamp()
        if instant < start:
            break
        if instant <= end:
            found += 1
            if found == count:
                return instant
    return start


def _fixed_iter(schedule: FixedRateSpec, first: float) -> Iterator[float]:
    t = first
    while True:
        yield t
        t = next_fire_after(schedule, t)


def kickoff_datetime(schedule: ScheduleSpec, instant: float) -> datetime:
    """The instant as the aware ``datetime`` a kickoff-time input receives: in the cron
    schedule's time zone, or UTC for a fixed rate."""
    zone = _zone(schedule.timezone) if isinstance(schedule, CronScheduleSpec) else UTC
    return datetime.fromtimestamp(instant, tz=zone)


_SLUG = re.compile(r"[^a-z0-9]+")


def scheduled_execution_id(
    launch_plan: str, instant: float, *, project: str = "", domain: str = "", n: int = 0
) -> str:
    """The execution id of a launch plan's firing at ``instant``: the same for the same
    plan and instant, whoever launches it (the loop, a second loop, a backfill).

    Shape: ``{plan slug}-{YYYYmmddtHHMMSSz}-{6 hex}`` (at most 63 characters), the hex a hash
    of the project, domain, full plan name and exact instant (and ``n`` past 0: the next ids
    to try where another project's execution holds the first, see
    :func:`~airfoil.engine.launch_plans.own_firing_id`).
    """
    slug = _SLUG.sub("-", launch_plan.rsplit(".", 1)[-1].lower()).strip("-")[:32] or "lp"
    when = datetime.fromtimestamp(instant, tz=UTC).strftime("%Y%m%dt%H%M%Sz")
    again = (str(n),) if n else ()
    digest = stable_hash(project, domain, launch_plan, repr(float(instant)), *again)[:6]
    return f"{slug}-{when}-{digest}"


def describe_schedule(schedule: ScheduleSpec | None) -> str:
    """A short human description: ``cron '0 3 * * *' (Europe/Paris)`` / ``every 1h0m0s``."""
    if schedule is None:
        return "-"
    if isinstance(schedule, CronScheduleSpec):
        return f"cron {schedule.expression!r} ({schedule.timezone})"
    seconds = schedule.interval_s
    h, rem = divmod(int(seconds), 3600)
    m, s = divmod(rem, 60)
    text = f"{h}h{m}m{s}s" if h else (f"{m}m{s}s" if m else f"{seconds:g}s")
    return f"every {text}"
