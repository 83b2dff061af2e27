"""``airfoil schedules list / activate / deactivate / backfill`` and ``airfoil scheduler``.

A launch plan lives in user code: ``activate FILE NAME`` imports the file once and stores the
plan's spec (workflow, inputs, schedule, notifications) and code root in the metadata store.
From then on the scheduler (``airfoil scheduler``, or the one inside ``airfoil server``)
launches it from the store without importing the file itself.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import signal
import threading
import time
from typing import TYPE_CHECKING, Any

import typer

from airfoil.cli._common import err_console, handle_errors, out_console, plain, runtime, say
from airfoil.cli._table import Table

if TYPE_CHECKING:
    from airfoil.core.launch_plans import LaunchPlanSpec
    from airfoil.local import LocalRuntime

__all__ = ["app", "register"]

app = typer.Typer(no_args_is_help=True)


def register(app_: typer.Typer) -> None:
    """Add ``airfoil schedules ...`` and ``airfoil scheduler`` to the CLI."""
    app_.add_typer(app, name="schedules", help="Activate, deactivate, list and backfill schedules.")
    app_.command("scheduler")(scheduler)


def _iso(ts: float | None) -> str:
    if ts is None:
        return ""
    try:
        return dt.datetime.fromtimestamp(ts, tz=dt.UTC).isoformat().replace("+00:00", "Z")
    except (OverflowError, ValueError, OSError):  # stored by an older version: past year 9999
        return f"{ts:g}s since 1970 (past what a date holds)"


def _local(ts: float | None, zone: str) -> str:
    if ts is None:
        return "-"
    from zoneinfo import ZoneInfo

    try:
        return dt.datetime.fromtimestamp(ts, tz=ZoneInfo(zone)).strftime("%Y-%m-%d %H:%M %Z")
    except (OverflowError, ValueError, OSError):
        return _iso(ts)


def _zone_of(record: Any) -> str:
    return getattr(record.spec.schedule, "timezone", "UTC")


def _what(r: Any) -> str:
    """A schedule's description (marked invalid, with why, when it can no longer fire), or
    an artifact trigger's."""
    from airfoil.engine.artifact_triggers import describe_trigger
    from airfoil.engine.schedules import describe_schedule, schedule_problem

    if r.spec.trigger is not None:
        return describe_trigger(r.spec.trigger)
    problem = schedule_problem(r.spec.schedule)
    described = describe_schedule(r.spec.schedule)
    return f"{described} (invalid: {problem})" if problem else described


def _next(r: Any) -> str:
    """When a schedule fires next; for a trigger, the versions it waits for."""
    from airfoil.engine.artifact_triggers import cursor_of

    if not r.active:
        return "-"
    if r.spec.trigger is not None:
        return f"after {r.spec.trigger.artifact}:{cursor_of(r)}"
    return _local(r.next_fire_at, _zone_of(r))


def _record_json(r: Any) -> dict[str, Any]:
    from airfoil.engine.artifact_triggers import cursor_of
    from airfoil.engine.schedules import schedule_problem

    triggered = r.spec.trigger is not None  # next_fire_at holds its version cursor
    out = {
        "name": r.name,
        "workflow": r.spec.workflow.name,
        "active": r.active,
        "schedule": _what(r),
        "next_fire_at": None if triggered else _iso(r.next_fire_at) or None,
        "last_fired_at": None if triggered else _iso(r.last_fired_at) or None,
        "last_execution_id": r.last_execution_id or None,
        "problem": schedule_problem(r.spec.schedule),
        "project": r.project,
        "domain": r.domain,
        "code_root": r.code_root,
    }
    if triggered:
        out["after_version"] = cursor_of(r)
    return out


@app.command("list")
@handle_errors
def list_schedules(
    active_only: bool = typer.Option(False, "--active", help="Only active schedules."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
    remote: bool = typer.Option(False, "--remote", help="List the server's schedules."),
    server: str = typer.Option(None, "--server", help="Server URL (AIRFOIL_SERVER_URL)."),
) -> None:
    """List activated (and deactivated) schedules and artifact triggers."""
    if remote or server:
        _list_remote(server, active_only, as_json)
        return
    rt = runtime()
    s = rt.settings
    records = rt.stores.schedules.list_schedules(
        project=s.project, domain=s.domain, active=True if active_only else None
    )
    if as_json:
        out_console.print_json(json.dumps([_record_json(r) for r in records]))
        return
    table = Table()
    for col in ("launch plan", "workflow", "schedule", "active", "next", "last execution"):
        table.add_column(col)
    for r in records:
        table.add_row(
            r.name,
            r.spec.workflow.name,
            _what(r),
            "yes" if r.active else "no",
            _next(r),
            r.last_execution_id or "-",
        )
    out_console.print(table)
    if not records:
        err_console.print("no schedules yet: try `airfoil schedules activate FILE LAUNCH_PLAN`")


def _list_remote(server: str | None, active_only: bool, as_json: bool) -> None:
    """``schedules list --remote``: the server's schedules of this project and domain."""
    from airfoil.cli._remote import _client

    with _client(server, None) as client:
        states = [st for st in client.schedules() if st.active or not active_only]
        url = client.shown_url
    if as_json:
        out_console.print_json(json.dumps([st.model_dump() for st in states]))
        return
    table = Table()
    for col in ("launch plan", "version", "schedule", "active", "next (UTC)", "last execution"):
        table.add_column(col)
    for st in states:
        nxt = _iso(st.next_fire_at) if st.active and st.next_fire_at else "-"
        active = "yes" if st.active else "no"
        what = f"{st.schedule} (invalid: {st.problem})" if st.problem else st.schedule
        row = (st.name, st.version, what, active, nxt, st.last_execution_id or "-")
        table.add_row(*row)
    out_console.print(table)
    if not states:
        plain(
            err_console,
            f"no schedules on {url} yet: "
            "try `airfoil schedules activate FILE LAUNCH_PLAN --remote`",
        )


@app.command("activate")
@handle_errors
def activate(
    file: str = typer.Argument(..., help="Python file defining the launch plan."),
    name: str = typer.Argument(..., help="Name of the launch plan variable in that file."),
    executor: str = typer.Option(
        "", "--executor", "-e", help="Executor of its runs (default: the scheduler's)."
    ),
    remote: bool = typer.Option(False, "--remote", help="Register it and fire it on the server."),
    server: str = typer.Option(None, "--server", help="Server URL (AIRFOIL_SERVER_URL)."),
) -> None:
    """Store a launch plan's schedule and start firing it (from now on)."""
    from airfoil.core.errors import ConfigError
    from airfoil.engine.scheduler_loop import activate_schedule
    from airfoil.engine.schedules import describe_schedule
    from airfoil.executors.registry import default_executors
    from airfoil.sdk._launch_plan import LaunchPlan
    from airfoil.sdk._versioning import project_root

    names = default_executors().names()
    if executor and executor not in names:
        raise ConfigError(
            f"unknown executor {executor!r}: use " + " or ".join(repr(n) for n in names)
        )
    plan = _load_plan(file, name, LaunchPlan)
    if remote or server:
        from airfoil.cli._remote import _client

        with _client(server, None) as client:
            client.register([plan])
            state = client.set_schedule(plan.spec.name, active=True)
        say(
            err_console,
            "schedule ",
            (state.name, "bold"),
            f" active on {client.shown_url} ({state.project}/{state.domain}): {state.schedule}, "
            f"next at {_local(state.next_fire_at, _zone_of(plan))}",
        )
        return
    rt = runtime()
    s = rt.settings
    if plan.spec.trigger is not None:
        _activate_trigger(rt, plan.spec, project_root(plan.module), executor)
        return
    record = activate_schedule(
        rt.meta,
        plan.spec,
        now=time.time(),
        code_root=project_root(plan.module),
        executor=executor,
        project=s.project,
        domain=s.domain,
    )
    say(
        err_console,
        "schedule ",
        (record.name, "bold"),
        f" active: {describe_schedule(record.spec.schedule)}, "
        f"next at {_local(record.next_fire_at, _zone_of(record))}",
    )
    err_console.print("it fires while `airfoil scheduler` (or `airfoil server`) runs")


def _load_plan(file: str, name: str, launch_plan_type: Any) -> Any:
    """The launch plan ``name`` of ``file``: a variable of that name, or else a plan created
    with that name while the file was imported."""
    from airfoil.cli._load import NoSuchEntityError, load_entity
    from airfoil.core.errors import ConfigError, DefinitionError

    try:
        entity = load_entity(file, name)
    except NoSuchEntityError:
        try:  # the file is imported now; look the plan up by its own name
            return launch_plan_type.get(name)
        except DefinitionError:
            raise ConfigError(f"{file} has no launch plan named {name!r}") from None
    if not isinstance(entity, launch_plan_type):
        raise ConfigError(
            f"{name!r} in {file} is a {type(entity).__name__}, not a launch plan: create one "
            f"with LaunchPlan.get_or_create({name}, 'my_plan', schedule=CronSchedule(...))"
        )
    return entity


@app.command("deactivate")
@handle_errors
def deactivate(
    name: str = typer.Argument(..., help="The launch plan's name."),
    remote: bool = typer.Option(False, "--remote", help="Deactivate it on the server."),
    server: str = typer.Option(None, "--server", help="Server URL (AIRFOIL_SERVER_URL)."),
) -> None:
    """Stop a schedule from firing (it stays stored for backfills and reactivation)."""
    from airfoil.engine.scheduler_loop import deactivate_schedule

    if remote or server:
        from airfoil.cli._remote import _client

        with _client(server, None) as client:
            state = client.set_schedule(name, active=False)
        say(err_console, "schedule ", (state.name, "bold"), f" deactivated on {client.shown_url}")
        return

    rt = runtime()
    s = rt.settings
    deactivate_schedule(rt.meta, name, now=time.time(), project=s.project, domain=s.domain)
    say(err_console, "schedule ", (name, "bold"), " deactivated")


def _activate_trigger(
    rt: LocalRuntime, spec: LaunchPlanSpec, code_root: str, executor: str
) -> None:
    from airfoil.engine.artifact_triggers import activate_trigger, describe_trigger
    from airfoil.engine.scheduler_loop import schedule_store
    from airfoil.store.artifacts import open_artifact_store

    s = rt.settings
    artifacts = open_artifact_store(s.database_url, s.home)
    try:
        record = activate_trigger(
            schedule_store(rt.meta),
            artifacts,
            spec,
            now=time.time(),
            code_root=code_root,
            executor=executor,
            project=s.project,
            domain=s.domain,
        )
    finally:
        artifacts.close()
    if record.spec.trigger is not None:
        what = describe_trigger(record.spec.trigger)
        say(err_console, "launch plan ", (record.name, "bold"), f" active: {what}")
    err_console.print("it fires while `airfoil scheduler` (or `airfoil server`) runs")


def _is_date(text: str) -> bool:
    """Whether ``text`` is a date alone (ISO 8601's extended or basic form)."""
    try:
        dt.date.fromisoformat(text.strip())
    except ValueError:
        return False
    return True


def parse_instant(text: str, zone: str, *, end_of_day: bool = False) -> float:
    """An ISO 8601 date or datetime as epoch seconds; without an offset it is read in
    ``zone`` (the schedule's time zone). A bare date is its midnight, or with ``end_of_day``
    its last instant (so ``--to 2026-03-31`` includes that day)."""
    from zoneinfo import ZoneInfo

    from airfoil.core.errors import ConfigError

    try:
        when = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise ConfigError(
            f"invalid time {text!r}: use ISO 8601, e.g. 2026-03-01 or 2026-03-01T03:00+01:00"
        ) from None
    if when.tzinfo is None:
        when = when.replace(tzinfo=ZoneInfo(zone))
    try:
        if end_of_day and _is_date(text):  # a bare date, 2026-03-31 or 20260331
            return (when + dt.timedelta(days=1)).timestamp() - 1e-3
        return when.timestamp()
    except (OverflowError, ValueError):  # 9999-12-31's end of day; year 1 in a zone east
        raise ConfigError(
            f"time {text!r} is out of range: give one between 1970-01-01 and 9998-12-31"
        ) from None


@app.command("backfill")
@handle_errors
def backfill_cmd(
    name: str = typer.Argument(..., help="The launch plan's name (activated once before)."),
    start: str = typer.Option(..., "--from", help="First instant (ISO 8601, inclusive)."),
    end: str = typer.Option(
        ..., "--to", help="Last instant (ISO 8601, inclusive; a bare date: all of that day)."
    ),
    no_wait: bool = typer.Option(
        False, "--no-wait", help="Only launch; leave the executions queued."
    ),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Launch one execution per instant of the schedule in [--from, --to].

    Times without an offset are read in the schedule's time zone. Instants already launched
    (by the scheduler or an earlier backfill) are skipped, so a backfill can be rerun safely.
    """
    from airfoil.engine.scheduler_loop import backfill

    rt = runtime()
    s = rt.settings
    record = rt.stores.schedules.get_schedule(name, project=s.project, domain=s.domain)
    zone = _zone_of(record)
    firings = backfill(
        rt,
        record,
        parse_instant(start, zone),
        parse_instant(end, zone, end_of_day=True),
        drive=not no_wait,
    )
    if as_json:
        out_console.print_json(
            json.dumps(
                [
                    {
                        "instant": _iso(f.instant),
                        "execution_id": f.execution_id,
                        "launched": f.launched,
                        "phase": _phase(rt, f.execution_id),
                        "error": f.error or None,
                    }
                    for f in firings
                ]
            )
        )
    else:
        for f in firings:
            what = "launched" if f.launched else ("failed" if f.error else "exists  ")
            detail = f.error or _phase(rt, f.execution_id)
            plain(err_console, f"{_local(f.instant, zone)}  {what}  {f.execution_id}  {detail}")
        new = sum(1 for f in firings if f.launched)
        err_console.print(f"{len(firings)} instants, {new} launched, {len(firings) - new} skipped")
    if any(f.error for f in firings):
        raise typer.Exit(1)


def _phase(rt: LocalRuntime, execution_id: str) -> str:
    from airfoil.core.errors import NotFoundError

    try:
        return str(rt.meta.get_execution(execution_id).phase)
    except NotFoundError:
        return "-"


@handle_errors
def scheduler(
    poll: float = typer.Option(1.0, "--poll", min=0.05, help="Seconds between passes."),
    once: bool = typer.Option(
        False, "--once", help="Fire what is due now, wait for those runs, and exit."
    ),
) -> None:
    """Run the scheduler in the foreground: fire due schedules, log each firing.

    Ctrl-C (or SIGTERM) stops it: it fires nothing more and waits for the executions it is
    driving (Ctrl-C again leaves them; `airfoil executions resume ID` continues them).
    """
    from airfoil.engine.scheduler_loop import SchedulerLoop
    from airfoil.store.artifacts import open_artifact_store

    _configure_logging()
    rt = runtime()
    # new artifact versions fire the triggered launch plans
    artifacts = open_artifact_store(rt.settings.database_url, rt.settings.home)
    if once:
        loop = SchedulerLoop(rt, drive="inline", poll_s=poll, artifacts=artifacts)
        try:
            fired = len(loop.run_once()) + len(loop.run_triggers())
        finally:
            artifacts.close()
        err_console.print(f"{fired} firing(s)")
        return
    loop = SchedulerLoop(rt, drive="background", poll_s=poll, artifacts=artifacts)
    stop = threading.Event()
    previous = signal.signal(signal.SIGTERM, lambda *_: stop.set())
    try:
        loop.run_forever(stop)
    except KeyboardInterrupt:
        stop.set()
        err_console.print("stopping: waiting for running executions (Ctrl-C again to leave them)")
    finally:
        signal.signal(signal.SIGTERM, previous)
    try:
        loop.close(wait=True)
    except KeyboardInterrupt:
        loop.close(wait=False)
        raise typer.Exit(130) from None
    finally:
        artifacts.close()


def _configure_logging() -> None:
    handler = logging.StreamHandler()
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    for name in ("airfoil.scheduler", "airfoil.notifications"):
        logger = logging.getLogger(name)
        logger.setLevel(logging.INFO)
        if not logger.handlers:
            logger.addHandler(handler)
