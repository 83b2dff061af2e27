"""``airfoil executions list / show / resume / recover / relaunch / abort``, ``airfoil logs``
and ``airfoil signal``: on the local store, or with ``--remote`` (or ``--server URL``) on an
Airfoil server, with the same output (see :mod:`airfoil.cli._remote`)."""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import time
from typing import TYPE_CHECKING, Any

import typer
from rich.text import Text

from airfoil.cli._common import (
    RUN_DOMAIN,
    err_console,
    handle_errors,
    is_tty,
    local_execution,
    out_console,
    plain,
    run_label,
    runtime,
    say_unreadable,
    shown_name,
    unreadable_json,
)
from airfoil.cli._table import Table

if TYPE_CHECKING:
    from airfoil.store.base import BlobStore

__all__ = ["app", "register_logs"]

app = typer.Typer(no_args_is_help=True)

_REMOTE = typer.Option(
    False, "--remote", help="On the server (--server or AIRFOIL_SERVER_URL), not locally."
)
_SERVER = typer.Option(None, "--server", help="Server URL (implies --remote).")
_PROJECT = typer.Option(None, "--project", help="Server project (default: AIRFOIL_PROJECT).")


def _remote() -> Any:
    from airfoil.cli import _remote as remote

    return remote


def _when(ts: float | None) -> str:
    if ts is None:
        return ""
    return dt.datetime.fromtimestamp(ts).strftime("%Y-%m-%d %H:%M:%S")


@app.command("list")
@handle_errors
def list_executions(
    limit: int = typer.Option(20, "--limit", "-n", min=1, max=1000, help="How many to show."),
    phase: str = typer.Option(
        None,
        "--phase",
        help="Only this phase: queued, running, succeeded, failed, aborted, or (local) "
        "interrupted.",
    ),
    workflow: str = typer.Option(None, "--workflow", help="Only this workflow (full name)."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
    remote: bool = _REMOTE,
    server: str = _SERVER,
    project: str = _PROJECT,
) -> None:
    """List the executions of the project (AIRFOIL_PROJECT), newest first."""
    from airfoil.cli._render import PHASE_STYLE, execution_json, shown_phase, sort_nodes

    _check_phase(phase, remote=bool(remote or server))
    if remote or server:
        _remote().remote_list(
            server, project, phase=phase, workflow=workflow, limit=limit, as_json=as_json
        )
        return

    rt = runtime()
    unreadable: dict[str, Any] = {}  # by id: each reported once

    def skipped(exc: Any) -> None:
        unreadable.setdefault(exc.record_id, exc)

    if phase == "interrupted":
        records = _interrupted(rt, workflow, limit, skipped)
    else:
        records = rt.meta.list_executions(
            project=rt.settings.project,
            phase=phase,
            workflow=workflow,
            limit=limit,
            on_unreadable=skipped,
        )
    for exc in unreadable.values():
        err_console.print(
            f"unreadable: execution {exc.record_id} (left out): {exc.reason}; {exc.why} "
            f"(`airfoil executions show {exc.record_id}`)",
            markup=False,
        )
    if as_json:
        parts: dict[tuple[str, str], Any] = {}  # a run's damaged nodes: the rest is listed

        def part_left_out(exc: Any) -> None:
            parts.setdefault((exc.kind, exc.record_id), exc)

        payload = [
            execution_json(r, sort_nodes(rt.meta.get_nodes(r.id, on_unreadable=part_left_out)), rt)
            for r in records
        ]
        for exc in parts.values():
            say_unreadable(unreadable_json(exc))
        out_console.print_json(json.dumps(payload))
        return
    table = Table()
    # Names are what a user copies into the next command: never cut or wrapped, even on a
    # narrow terminal (the other columns give way).
    # A name is unique within its project and domain: one outside AIRFOIL_DOMAIN prints as
    # ``name (domain)`` (give --domain domain), as everywhere else in the CLI.
    names = [run_label(shown_name(r), r.domain, rt.settings.domain) for r in records]
    table.add_column("execution", no_wrap=True, min_width=max(map(len, names), default=9))
    for col in ("workflow", "phase", "created", "duration"):
        table.add_column(col)
    for r, name in zip(records, names, strict=True):
        dur = (r.ended_at or 0) - (r.started_at or 0) if r.ended_at and r.started_at else None
        phase = shown_phase(r, rt.meta)
        table.add_row(
            name,
            r.workflow,
            Text(phase, style=PHASE_STYLE.get(phase, "")),
            _when(r.created_at),
            f"{dur:.2f}s" if dur is not None else "",
        )
    out_console.print(table)
    if not records and (phase or workflow):
        err_console.print("no executions match")
    elif not records:
        err_console.print("no executions yet: try `airfoil run FILE WORKFLOW`")


_PHASES = ("queued", "running", "succeeded", "failed", "aborted")


def _check_phase(phase: str | None, *, remote: bool) -> None:
    """A phase that no execution can be in is a typo, not an empty list."""
    from airfoil.core.errors import ConfigError

    if phase is None or phase in _PHASES or (phase == "interrupted" and not remote):
        return
    if phase == "interrupted":
        raise ConfigError(
            "--phase interrupted filters the local store (executions no process drives); "
            "a server filters by the stored phase: use --phase running (or queued)"
        )
    raise ConfigError(
        f"unknown phase {phase!r}: use one of {', '.join(_PHASES)}"
        + ("" if remote else " or interrupted")
    )


def _interrupted(rt: Any, workflow: str | None, limit: int, skipped: Any) -> list[Any]:
    """The newest ``limit`` executions that have not ended and that no process drives."""
    from airfoil.cli._render import is_interrupted

    found: list[Any] = []
    left_out: list[Any] = []  # unreadable rows count toward a page's length

    def skip(exc: Any) -> None:
        left_out.append(exc)
        skipped(exc)

    for phase in ("queued", "running"):
        offset = 0
        while True:
            left_out.clear()
            page = rt.meta.list_executions(
                project=rt.settings.project,
                phase=phase,
                workflow=workflow,
                limit=500,
                offset=offset,
                on_unreadable=skip,
            )
            found += [r for r in page if is_interrupted(r, rt.meta)]
            rows = len(page) + len(left_out)
            if rows < 500:
                break
            offset += rows
    found.sort(key=lambda r: (r.created_at, r.id), reverse=True)
    return found[:limit]


@app.command("show")
@handle_errors
def show(
    execution_id: str = typer.Argument(..., help="Execution name (in the project) or id."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
    events: bool = typer.Option(False, "--events", help="Also print the event log."),
    remote: bool = _REMOTE,
    server: str = _SERVER,
    project: str = _PROJECT,
    domain: str = RUN_DOMAIN,
) -> None:
    """Show an execution: its phase, outputs and a table of its nodes."""
    from airfoil.cli._render import (
        PHASE_STYLE,
        execution_json,
        node_table,
        shown_nodes,
        sort_nodes,
        task_types,
    )

    if remote or server:
        _remote().remote_show(server, project, execution_id, as_json, domain)
        return

    from airfoil.cli._history import local_anomalies, print_anomalies

    rt = runtime()
    execution_id = local_execution(rt, execution_id, domain)
    record = rt.meta.get_execution(execution_id)
    bad: dict[tuple[str, str], Any] = {}  # its parts that no longer decode: the rest is shown

    def skipped(exc: Any) -> None:
        bad.setdefault((exc.kind, exc.record_id), exc)

    nodes = sort_nodes(rt.meta.get_nodes(execution_id, on_unreadable=skipped))
    story = rt.meta.get_events(execution_id, on_unreadable=skipped) if events else []
    data = execution_json(record, nodes, rt)
    data["anomalies"] = local_anomalies(rt, execution_id)
    data["unreadable"] = [unreadable_json(e) for e in bad.values()]
    from airfoil.store.naming import ExecutionNames

    names = ExecutionNames(rt.meta, record.project)  # a cache hit's cause names its source
    names.remember(record.id, record.display_name, record.domain)
    for exc in bad.values():
        say_unreadable(unreadable_json(exc))
    if as_json:
        if events:
            data["events"] = [
                {
                    "seq": e.seq,
                    "at": e.at,
                    "kind": e.kind,
                    "node": e.node_id,
                    "from": e.from_phase,
                    "to": e.to_phase,
                    "cause": names.text(e.cause),
                    "cause_id": e.cause_id,
                }
                for e in story
            ]
        out_console.print_json(json.dumps(data))
        return
    phase = "interrupted" if data["interrupted"] else record.phase
    out_console.print(
        Text.assemble(
            "execution ",
            (shown_name(record), "bold"),
            f"  {record.workflow} @ {record.version}  ",
            (phase, PHASE_STYLE.get(phase, "")),
            f"  created {_when(record.created_at)}",
        )
    )
    if data["interrupted"]:
        plain(
            out_console,
            "no process drives it any more; carry it on: airfoil executions resume "
            + shown_name(record),
        )
    types = task_types(record.spec)
    out_console.print(node_table(shown_nodes(record, nodes, rt.meta), types=types))
    print_anomalies(data["anomalies"])
    if data["outputs"]:
        out_console.print("outputs:")
        out_console.print_json(json.dumps(data["outputs"]))
    if record.error:
        out_console.print(
            Text.assemble(
                (f"{record.error.kind} error", "red"),
                f" {record.error.type}: {record.error.message}",
            )
        )
    if events:
        for e in story:
            who = f"{e.node_id} " if e.node_id else ""
            if e.kind == "attempt" and e.attempt:  # which try: a retry's story reads apart
                who += f"#{e.attempt} "
            out_console.print(
                f"{e.seq:>5} {_when(e.at)} {e.kind:<9} {who}{e.from_phase or '-'} -> "
                f"{e.to_phase}: {names.text(e.cause)}"
                + (f" (after {e.cause_id})" if e.cause_id else ""),
                markup=False,
            )


@app.command("resume")
@handle_errors
def resume(
    execution_id: str = typer.Argument(..., help="Execution name (in the project) or id."),
    executor: str = typer.Option(None, "--executor", "-e", help="inline, process or ray."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
    remote: bool = _REMOTE,
    server: str = _SERVER,
    domain: str = RUN_DOMAIN,
) -> None:
    """Finish an interrupted execution: nodes that succeeded are not run again."""
    if remote or server:
        from airfoil.core.errors import ConfigError

        raise ConfigError(
            "a server resumes its executions itself (another server takes over those of one "
            "that died); to run a failed one again use `executions recover ID --remote`"
        )
    rt = runtime()
    execution_id = local_execution(rt, execution_id, domain)
    record = rt.meta.get_execution(execution_id)
    if record.phase in ("succeeded", "failed", "aborted"):
        if as_json:
            from airfoil.cli._render import execution_json, sort_nodes

            nodes = sort_nodes(rt.meta.get_nodes(execution_id))
            out_console.print_json(json.dumps(execution_json(record, nodes, rt)))
        else:
            hint = (
                ""
                if record.phase == "succeeded"
                else f"; to run it again from its failure: airfoil executions recover "
                f"{shown_name(record)}"
            )
            plain(
                err_console,
                f"execution {shown_name(record)} already ended ({record.phase}): nothing to "
                "resume" + hint,
            )
        if record.phase != "succeeded":
            raise typer.Exit(1)
        return
    _drive_and_report(record, executor, as_json, "resumes")


def _drive_and_report(record: object, executor: str | None, as_json: bool, what: str) -> None:
    """Drive an execution (live view on a terminal), then print it; exit 1 unless it
    succeeded."""
    from airfoil.cli._echo import OutputEcho, chain
    from airfoil.cli._render import execution_json, sort_nodes
    from airfoil.cli._run import command_ref, interrupted, print_summary
    from airfoil.engine.control import TerminateWatch, drive_watched

    rt = runtime()
    rec: Any = record
    home = rt.settings.domain
    if not as_json:  # named as every other line names it (main: its global id)
        shown = run_label(shown_name(rec), rec.domain, home)
        err_console.print(Text.assemble("execution ", (shown, "bold"), f" {what}"))
    live = None
    if not as_json and is_tty():
        from airfoil.cli._live import LiveView

        live = LiveView(err_console, rec.workflow, rt.settings.domain)
    echo = (
        None
        if as_json
        else OutputEcho(err_console, rt.blobs, rec.id, time.time(), rt.settings.domain)
    )
    watch = TerminateWatch(rt.executor(executor or rec.executor), rt.meta, rec.id)
    engine = rt.engine(watch, on_change=chain(live.update if live else None, echo and echo.update))
    started = time.perf_counter()
    try:
        with live or contextlib.nullcontext(), echo or contextlib.nullcontext():
            rec = drive_watched(engine, watch, rec.id)
    except KeyboardInterrupt:
        interrupted(shown_name(rec), command_ref(rec, home))
    nodes = sort_nodes(rt.meta.get_nodes(rec.id))
    if as_json:
        out_console.print_json(json.dumps(execution_json(rec, nodes, rt)))
    else:
        print_summary(rec, nodes, rt, time.perf_counter() - started, live is None)
    if rec.phase != "succeeded":
        raise typer.Exit(1)


@app.command("recover")
@handle_errors
def recover(
    execution_id: str = typer.Argument(..., help="A failed execution."),
    new_id: str = typer.Option(None, "--name", help="Id of the new execution."),
    executor: str = typer.Option(None, "--executor", "-e", help="inline, process or ray."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
    remote: bool = _REMOTE,
    server: str = _SERVER,
    project: str = _PROJECT,
    domain: str = RUN_DOMAIN,
) -> None:
    """Run a failed execution again from the failure on, reusing what had succeeded."""
    remote = remote or bool(server)
    _again("recover", execution_id, new_id, executor, as_json, remote, server, project, domain)


@app.command("relaunch")
@handle_errors
def relaunch(
    execution_id: str = typer.Argument(..., help="An execution."),
    new_id: str = typer.Option(None, "--name", help="Id of the new execution."),
    executor: str = typer.Option(None, "--executor", "-e", help="inline, process or ray."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
    remote: bool = _REMOTE,
    server: str = _SERVER,
    project: str = _PROJECT,
    domain: str = RUN_DOMAIN,
) -> None:
    """Run an execution again, from scratch, with the same inputs."""
    remote = remote or bool(server)
    _again("relaunch", execution_id, new_id, executor, as_json, remote, server, project, domain)


def _again(
    how: str,
    execution_id: str,
    new_id: str | None,
    executor: str | None,
    as_json: bool,
    remote: bool,
    server: str | None,
    project: str | None,
    domain: str | None,
) -> None:
    """``recover`` or ``relaunch``: on a server, or locally (then drive the new execution)."""
    if remote:
        if new_id is not None or executor is not None:
            from airfoil.core.errors import ConfigError

            raise ConfigError(
                "--name and --executor apply to local runs only: the server names and runs "
                "the new execution itself"
            )
        _remote().remote_again(server, project, execution_id, how, as_json, domain)
        return
    rt = runtime()
    execution_id = local_execution(rt, execution_id, domain)
    engine = rt.engine(executor)
    if how == "recover":
        record = engine.recover(execution_id, new_id=new_id)
    else:
        record = engine.relaunch(execution_id, new_id=new_id)
    old = rt.meta.get_execution(execution_id)
    was = run_label(shown_name(old), old.domain, rt.settings.domain)
    _drive_and_report(record, executor, as_json, f"{how}s {was}")


@app.command("abort")
@handle_errors
def abort(
    execution_id: str = typer.Argument(..., help="Execution name (in the project) or id."),
    remote: bool = _REMOTE,
    server: str = _SERVER,
    project: str = _PROJECT,
    domain: str = RUN_DOMAIN,
) -> None:
    """Abort an execution (one another process drives stops within about a second)."""
    if remote or server:
        _remote().remote_terminate(server, project, execution_id, domain)
        return
    from airfoil.core.errors import ConflictError

    rt = runtime()
    eid = local_execution(rt, execution_id, domain)
    ended = rt.meta.get_execution(eid)
    if ended.phase in ("succeeded", "failed", "aborted"):  # as a server answers (409)
        raise ConflictError(
            f"execution {shown_name(ended)} already ended ({ended.phase}): nothing to abort"
        )
    try:
        record = rt.engine().abort(eid)
    except ConflictError:  # a live process drives it: ask that one to stop, and wait a while
        record = _abort_driven(rt, ended)
    shown = run_label(shown_name(record), record.domain, rt.settings.domain)
    plain(err_console, f"execution {shown} {record.phase}")


def _abort_driven(rt: Any, record: Any, wait_s: float = 30.0) -> Any:
    """Ask the process driving ``record`` to abort it (it reads the request at its next
    poll, within about half a second), and wait up to ``wait_s`` for it to have done so."""
    from airfoil.engine.control import request_terminate

    request_terminate(rt.meta, record, "aborted by user", time.time())
    deadline = time.monotonic() + wait_s
    while time.monotonic() < deadline:
        record = rt.meta.get_execution(record.id)
        if record.phase in ("succeeded", "failed", "aborted"):
            return record
        time.sleep(0.2)
    plain(
        err_console,
        f"asked the process driving execution {shown_name(record)} to abort it; it has not "
        "yet (with the inline executor it reads the request once the running task ends)",
    )
    return record


def register_signal(root: typer.Typer) -> None:
    @root.command("signal")
    @handle_errors
    def signal(
        execution_id: str = typer.Argument(..., help="Execution name (in the project) or id."),
        name: str = typer.Argument(..., help="The gate's signal name."),
        value: str = typer.Argument(..., help="The value (true/false for approvals)."),
        remote: bool = _REMOTE,
        server: str = _SERVER,
        project: str = _PROJECT,
        domain: str = RUN_DOMAIN,
    ) -> None:
        """Send a value to a gate waiting in an execution (wait_for_input / approve)."""
        from airfoil.engine.signals import send_signal

        if remote or server:
            _remote().remote_signal(server, project, execution_id, name, value, domain)
            return

        rt = runtime()
        eid = local_execution(rt, execution_id, domain)
        node = send_signal(rt.meta, rt.blobs, rt.types, eid, name, value)
        where = f" ({domain})" if domain else ""
        plain(err_console, f"sent {name}={value} to execution {execution_id}{where} (node {node})")


def _unfinished_log(blobs: BlobStore, execution_id: str, node_id: str, attempt: int) -> str | None:
    """The log of an attempt whose end was never recorded: written at its final place when
    Ctrl-C stopped it, or the running copy a killed process left behind."""
    from airfoil.core.errors import NotFoundError
    from airfoil.executors.base import attempt_log_key, live_log_key

    key = attempt_log_key(execution_id, node_id, attempt)
    for where, note in ((key, ""), (live_log_key(key), "(the attempt's process died here)\n")):
        try:
            return blobs.get_bytes(blobs.uri(where)).decode(errors="replace") + note
        except NotFoundError:
            continue
    return None


def _rank_log(
    blobs: BlobStore, execution_id: str, node_id: str, attempt: int, rank: int
) -> str | None:
    """Rank ``rank``'s log of a training attempt (as far as it got, while it runs)."""
    from airfoil.core.errors import NotFoundError
    from airfoil.executors.base import rank_log_key

    key = rank_log_key(execution_id, node_id, attempt, rank)
    try:
        return blobs.get_bytes(blobs.uri(key)).decode(errors="replace")
    except NotFoundError:
        return None


def _under(node_id: str, node: str | None) -> bool:
    """Whether an attempt of ``node_id`` belongs to ``node``: the node itself, a map's items
    (``n1[13]`` under ``n1``) or a subworkflow's or dynamic node's children (``n1.n0``)."""
    if node is None or node_id == node:
        return True
    return node_id.startswith((node + "[", node + "."))


def register_logs(root: typer.Typer) -> None:
    @root.command("logs")
    @handle_errors
    def logs(
        execution_id: str = typer.Argument(
            None, help="Execution name or id (not with --search, which looks across runs)."
        ),
        node: str = typer.Argument(
            None,
            help="Node id (default: every node): n1, a map's item n1[13], a subworkflow's "
            "child n1.n0. A map or subworkflow shows all its items or children.",
        ),
        attempt: int = typer.Option(None, "--attempt", help="Only this attempt."),
        rank: int = typer.Option(
            None,
            "--rank",
            min=0,
            help="A training task's rank: that rank's own log (its output, every gang start) "
            "instead of the attempt's.",
        ),
        level: str = typer.Option(
            None,
            "--level",
            help="Only entries at this level or above: DEBUG, INFO, WARNING, ERROR, CRITICAL "
            "(printed lines count as INFO, stderr lines as WARNING).",
        ),
        follow: bool = typer.Option(
            False, "--follow", "-f", help="Print the logs as they grow until the execution ends."
        ),
        search: str = typer.Option(
            None, "--search", help="Find log lines containing this text across runs."
        ),
        since: str = typer.Option(None, "--since", help="--search: runs this recent (7d, 12h)."),
        runs: int = typer.Option(
            200, "--runs", min=1, max=1000, help="--search: read the newest N runs at most."
        ),
        limit: int = typer.Option(
            100, "--limit", min=1, max=1000, help="--search: stop after N matching lines."
        ),
        as_json: bool = typer.Option(
            False, "--json", help="Print a JSON list of {node, attempt, phase, log}."
        ),
        remote: bool = _REMOTE,
        server: str = _SERVER,
        project: str = _PROJECT,
        domain: str = RUN_DOMAIN,
    ) -> None:
        """Print the logs (prints, logging records with their level and time, tracebacks)
        of an execution's attempts; follow them (-f) or search them across runs (--search)."""
        from airfoil.core.errors import ConfigError, InvalidInputError, NotFoundError
        from airfoil.core.log_lines import filter_level, level_rank

        if level is not None:
            try:
                level_rank(level)
            except ValueError as exc:
                raise InvalidInputError(str(exc)) from None
        if search is not None:
            if execution_id is not None or follow:
                raise ConfigError(
                    "--search looks across runs: give no execution id and no --follow"
                )
            from airfoil.cli._failures import parse_since
            from airfoil.cli._logs import search as search_logs

            after = parse_since(since, time.time())
            search_logs(
                search,
                since=after,
                runs=runs,
                limit=limit,
                level=level,
                as_json=as_json,
                remote=bool(remote or server),
                server=server,
                project=project,
            )
            return
        if execution_id is None:
            raise ConfigError("give an execution id (or --search TEXT to look across runs)")
        if since is not None:
            raise ConfigError("--since goes with --search")
        if follow:
            if as_json or attempt is not None:
                raise ConfigError("--follow prints every attempt as it runs: drop --json/--attempt")
            from airfoil.cli._logs import follow as follow_logs

            follow_logs(
                execution_id,
                node,
                level,
                rank=rank,
                remote=bool(remote or server),
                server=server,
                project=project,
                under=_under,
                domain=domain,
            )
            return
        if remote or server:
            if as_json:
                raise ConfigError("logs --json reads the local store; drop --remote/--server")
            _remote().remote_logs(server, project, execution_id, node, attempt, level, rank, domain)
            return

        from airfoil.cli._render import is_interrupted, node_sort_key
        from airfoil.core.interruption import shown_attempts

        rt = runtime()
        execution_id = local_execution(rt, execution_id, domain)
        record = rt.meta.get_execution(execution_id)
        attempts = shown_attempts(  # running attempts of an interrupted execution: lost
            (a for a in rt.meta.get_attempts(execution_id) if _under(a.node_id, node)),
            is_interrupted(record, rt.meta),
        )
        if node is not None and not attempts:
            rt.meta.get_node(execution_id, node)  # NotFoundError for an id that is no node
        attempts.sort(key=lambda a: (node_sort_key(a.node_id), a.attempt))
        shown: list[dict[str, Any]] = []
        for a in attempts:
            if attempt is not None and a.attempt != attempt:
                continue
            text: str | None = None
            if rank is not None:
                text = _rank_log(rt.blobs, execution_id, a.node_id, a.attempt, rank)
            elif a.log_uri:
                try:
                    text = rt.blobs.get_bytes(a.log_uri).decode(errors="replace")
                except NotFoundError:
                    text = None
            else:  # an attempt that never ended: its log so far, if it left one
                text = _unfinished_log(rt.blobs, execution_id, a.node_id, a.attempt)
            if text is not None and level is not None:
                text = filter_level(text, level)
            entry = {"node": a.node_id, "attempt": a.attempt, "phase": a.phase, "log": text}
            if rank is not None:
                entry["rank"] = rank
            shown.append(entry)
            if as_json:
                continue
            of_rank = "" if rank is None else f" rank {rank}"
            title = f"== {a.node_id} attempt {a.attempt}{of_rank} ({a.phase})"
            plain(out_console, title, style="bold")
            if text is not None:
                plain(out_console, text.rstrip())
            elif rank is not None:
                plain(out_console, f"(no log of rank {rank})", style="dim")
            elif a.log_uri:
                plain(out_console, f"(log {a.log_uri} is missing)", style="dim")
            else:
                plain(out_console, "(no output)", style="dim")
        if rank is not None and shown and all(e["log"] is None for e in shown):
            raise NotFoundError(
                f"no attempt of {node or 'any node'} in execution {shown_name(record)} has a "
                "log of "
                f"rank {rank}: --rank reads a training task's ranks (0 to its workers - 1)"
            )
        if attempt is not None and not shown:
            from airfoil.cli._logs import no_such_attempt

            have = [a.attempt for a in attempts]
            raise no_such_attempt(attempt, node, shown_name(record), have)
        if as_json:
            out_console.print_json(json.dumps(shown))
        elif not shown:
            plain(err_console, "no attempts match")
