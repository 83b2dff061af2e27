"""Remote runs: ``airfoil register FILE --project P``, ``airfoil remote run FILE NAME ...``
(also reachable as ``airfoil run --remote``) and ``airfoil remote executions ...``.

The server is ``--server URL`` or ``AIRFOIL_SERVER_URL``; the key ``AIRFOIL_API_KEY``. The
user's file is imported *here* (to build its specs and parse inputs), its source folder is
packaged, uploaded and registered, and the server's workers run it from the package.
``--json`` prints the same object as a local ``airfoil run --json``.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any, TypeVar

import typer
from rich.text import Text

from airfoil.cli._common import (
    RUN_DOMAIN,
    err_console,
    handle_errors,
    out_console,
    plain,
    run_label,
    say,
    say_unreadable,
)

__all__ = [
    "addressed",
    "follow",
    "remote_cache_explanation",
    "register",
    "remote_again",
    "remote_list",
    "remote_logs",
    "remote_show",
    "remote_signal",
    "remote_terminate",
    "run_remote",
]

T = TypeVar("T")

#: The most executions the API lists per page.
API_PAGE = 500

remote_app = typer.Typer(no_args_is_help=True, help="Run and inspect executions on a server.")

_SERVER = typer.Option(None, "--server", help="Server URL (default: AIRFOIL_SERVER_URL).")
_PROJECT = typer.Option(None, "--project", help="Project (default: AIRFOIL_PROJECT).")


def _client(server: str | None, project: str | None, domain: str | None = None) -> Any:
    from airfoil.client import Client
    from airfoil.settings import AirfoilSettings

    s = AirfoilSettings()
    return Client(server, project=project or s.project, domain=domain or s.domain)


def _entities(module: Any) -> list[Any]:
    from airfoil.core.launch_plans import LaunchPlanSpec
    from airfoil.core.records import TaskSpec, WorkflowSpec

    found = []
    for name, obj in sorted(vars(module).items()):
        if name.startswith("_") or not hasattr(obj, "py_interface"):
            continue
        if getattr(obj, "module", None) != module.__name__:
            continue  # imported from elsewhere: registered with its own module
        if isinstance(getattr(obj, "spec", None), (TaskSpec, WorkflowSpec, LaunchPlanSpec)):
            found.append(obj)
    return found


def register_file(client: Any, file: str, names: list[str] | None = None) -> Any:
    """Register the tasks and workflows of a file (all, or those named)."""
    import sys

    from airfoil.cli._load import load_entity
    from airfoil.core.errors import ConfigError

    if names:
        entities = [load_entity(file, n) for n in names]
    else:
        first = load_entity_module(file)
        entities = _entities(sys.modules[first])
        if not entities:
            raise ConfigError(f"{file} defines no task or workflow")
    return client.register(entities)


def load_entity_module(file: str) -> str:
    """Import ``file`` (as ``airfoil run`` does) and return its module name."""
    from airfoil.cli._load import NoSuchEntityError, load_entity, module_of

    try:
        load_entity(file, "__airfoil_no_such_entity__")
    except NoSuchEntityError:
        pass
    return module_of(file)[0]


@handle_errors
def _register_cmd(
    file: str = typer.Argument(..., help="Python file defining tasks and workflows."),
    names: list[str] = typer.Option(None, "--name", help="Register only these (repeatable)."),
    server: str = _SERVER,
    project: str = _PROJECT,
    as_json: bool = typer.Option(False, "--json", help="Print one JSON object."),
) -> None:
    """Package the file's source folder, upload it and register its tasks and workflows."""
    with _client(server, project) as client:
        res = register_file(client, file, names)
    if as_json:
        out_console.print_json(res.model_dump_json())
        return
    for e in res.entities:
        state = "registered" if e.created else "already registered"
        say(err_console, f"{e.kind} ", (e.name, "bold"), f" version {e.version[:16]} {state}")
    for p in res.launch_plans:
        state = "registered" if p.created else "already registered"
        say(err_console, "launch plan ", (p.name, "bold"), f" version {p.version} {state}")


def run_remote(
    file: str,
    name: str,
    args: list[str],
    *,
    server: str | None,
    project: str | None = None,
    domain: str | None = None,
    execution_id: str | None = None,
    as_json: bool = False,
) -> None:
    """Register ``name`` (a task, workflow or launch plan) from ``file``, launch it on the
    server, stream progress, print."""
    from airfoil.cli._inputs import parse_inputs
    from airfoil.cli._load import NoSuchEntityError, load_entity
    from airfoil.core.errors import ConfigError
    from airfoil.core.launch_plans import LaunchPlanSpec
    from airfoil.types import default_type_engine

    try:
        entity = load_entity(file, name)
    except NoSuchEntityError:  # a launch plan created under its own name, not in a variable
        from airfoil.core.errors import DefinitionError
        from airfoil.sdk._launch_plan import LaunchPlan

        try:
            entity = LaunchPlan.get(name)
        except DefinitionError:
            raise ConfigError(f"{file} has no task, workflow or launch plan {name!r}") from None
    given = parse_inputs(entity, args, default_type_engine())
    with _client(server, project, domain) as client:
        client.register([entity])
        if isinstance(getattr(entity, "spec", None), LaunchPlanSpec):
            ex = client.launch_plan(entity, given, name=execution_id)
        else:
            ex = client.launch(entity, given, name=execution_id)
        follow(client, ex.id, f"of {entity.name} started on {client.shown_url}", as_json, ex.name)


def follow(client: Any, execution_id: str, what: str, as_json: bool, name: str = "") -> None:
    """Stream an execution's node events (unless ``as_json``), then print its result as a
    local run would (the execution shown by ``name``, default its id); exit 1 unless it
    succeeded."""
    started = time.perf_counter()
    if not as_json:
        say(err_console, "execution ", (name or execution_id, "bold"), f" {what}")
        for ev in client.watch(execution_id):
            if ev.kind == "node":
                err_console.print(
                    f"  {ev.node_id:<24} {ev.to_phase:<10} {ev.cause}",
                    markup=False,
                    highlight=False,
                )
    detail = client.wait(execution_id)
    out = remote_execution_json(detail)
    out["unreadable"] = [u.model_dump() for u in detail.unreadable]  # as a local run's
    for u in detail.unreadable:  # its parts the server could not read: the rest is shown
        say_unreadable(u.model_dump())
    if as_json:
        out_console.print_json(json.dumps(out, default=str))
    else:
        say(
            err_console,
            "execution ",
            (detail.name or detail.id, "bold"),
            f" {detail.phase} in {time.perf_counter() - started:.2f}s",
        )
        if detail.phase == "succeeded" and out["outputs"]:
            out_console.print_json(json.dumps(out["outputs"], default=str))
        elif detail.error is not None:
            err_console.print(
                Text.assemble(
                    (f"{detail.error.kind} error", "bold red"),
                    f" {detail.error.type}: {detail.error.message}",
                )
            )
    if detail.phase != "succeeded":
        raise typer.Exit(1)


def _node_record(execution_id: str, n: Any) -> Any:
    """A wire node as the record the local renderer takes (one JSON shape for both)."""
    from airfoil.core.records import ErrorInfo, NodeRecord

    err = n.error
    fields: dict[str, Any] = {
        "execution_id": execution_id,
        "node_id": n.id,
        "phase": n.phase,
        "kind": n.kind,
        "task": n.task,
        "parent": n.parent,
        "attempts": n.attempts,
        "cache_status": n.cache_status,
        "cache_reason": n.cache_reason,
        "queued_at": n.queued_at,
        "started_at": n.started_at,
        "ended_at": n.ended_at,
        "error": ErrorInfo(err.kind, err.type, err.message, err.traceback) if err else None,
    }
    known = set(NodeRecord.__struct_fields__)
    if "map_counts" in known:
        fields["map_counts"] = dict(n.map_counts)
    if "branch_taken" in known:
        fields["branch_taken"] = n.branch_taken
    return NodeRecord(**fields)


def remote_execution_json(d: Any) -> dict[str, Any]:
    """The shape of the local ``run --json`` object, from an execution's detail."""
    from airfoil.cli._render import node_json

    return {
        "execution_id": d.id,
        "name": d.name or d.id,
        "project": d.project,
        "domain": d.domain,
        "workflow": d.workflow,
        "version": d.version,
        "phase": d.phase,
        # A server takes over the executions of a driver that died: none waits for a resume.
        "interrupted": False,
        "created_at": d.created_at,
        "duration_s": d.duration_s,
        "outputs": {v.name: v.preview for v in d.outputs},
        "error": (
            {
                "kind": d.error.kind,
                "type": d.error.type,
                "message": d.error.message,
                "traceback": d.error.traceback,
            }
            if d.error
            else None
        ),
        "nodes": [node_json(_node_record(d.id, n)) for n in d.nodes],
    }


@remote_app.command(
    "run", context_settings={"allow_extra_args": True, "ignore_unknown_options": True}
)
@handle_errors
def _run_cmd(
    ctx: typer.Context,
    file: str = typer.Argument(..., help="Python file defining the task or workflow."),
    name: str = typer.Argument(..., help="Name of the task or workflow in that file."),
    server: str = _SERVER,
    project: str = _PROJECT,
    domain: str = typer.Option(None, "--domain", help="Domain (default: AIRFOIL_DOMAIN)."),
    execution_id: str = typer.Option(
        None, "--name", help="Execution name in the project (default: its generated id)."
    ),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON object."),
) -> None:
    """Run a task or workflow on the server (inputs as in `airfoil run`)."""
    run_remote(
        file,
        name,
        list(ctx.args),
        server=server,
        project=project,
        domain=domain,
        execution_id=execution_id,
        as_json=as_json,
    )


# --- `airfoil executions ... --remote` (and the `airfoil remote` aliases) -------------------


def remote_list(
    server: str | None,
    project: str | None,
    *,
    phase: str | None,
    workflow: str | None,
    limit: int,
    as_json: bool,
) -> None:
    """List the server's executions, newest first (``--json``: the local list's shape)."""
    from airfoil.cli._table import Table

    with _client(server, project) as client:
        items: list[Any] = []
        unreadable: dict[str, Any] = {}  # rows that no longer decode, by id
        rows = 0  # the rows paged through: items and unreadable ones alike
        while rows < limit:  # the API pages at most API_PAGE; --limit goes to 1000
            page = client.list(
                phase=phase,
                workflow=workflow,
                limit=min(limit - rows, API_PAGE),
                offset=rows,
            )
            items += page.items
            unreadable.update((u.id, u) for u in page.unreadable)
            got = len(page.items) + len(page.unreadable)
            rows += got
            if got < min(limit, API_PAGE) or rows >= page.total:
                break
        if as_json:
            details = [remote_execution_json(client.get(e.id)) for e in items]
            out_console.print_json(json.dumps(details, default=str))
            _say_unreadable(list(unreadable.values()))
            return
    table = Table()
    # What `executions show/logs/abort --remote` take, as the local list prints it: the run's
    # name (its id when it has none), with its domain when outside AIRFOIL_DOMAIN (pass that
    # as --domain); never cut or wrapped, like the local list's names.
    names = [run_label(e.name or e.id, e.domain, client.domain) for e in items]
    table.add_column("execution", no_wrap=True, min_width=max(map(len, names), default=9))
    for col in ("workflow", "phase", "created", "duration"):
        table.add_column(col)
    for e, name in zip(items, names, strict=True):
        table.add_row(
            name,
            e.workflow,
            e.phase,
            time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(e.created_at)),
            f"{e.duration_s:.2f}s" if e.duration_s is not None else "",
        )
    out_console.print(table)
    if not items and not unreadable:
        plain(err_console, f"no executions in project {client.project} on {client.shown_url}")
    _say_unreadable(list(unreadable.values()))


def _say_unreadable(found: list[Any]) -> None:
    """One line after the listing: how many rows could not be read, and which."""
    if not found:
        return
    n = len(found)
    ids = ", ".join(u.id for u in found)
    err_console.print(
        f"{n} execution{'s' if n > 1 else ''} could not be read and "
        f"{'are' if n > 1 else 'is'} left out: {ids} (stored by an older or faulty version; "
        f"`airfoil executions show {found[0].id} --remote` says why)",
        markup=False,
    )


def addressed(client: Any, domain: str | None, call: Callable[[str | None], T]) -> T:
    """``call(domain)`` on the run a command names as the CLI finds a local one: in
    ``domain`` if given, else by its name or id alone, and a name the project uses in several
    domains in the client's (``AIRFOIL_DOMAIN``), where the CLI prints it bare
    (:func:`~airfoil.cli._common.run_label`). A 409 is a refusal that changed nothing, so
    asking again in the client's domain is safe for a command that acts (terminate, signal).

    Raises:
        ConflictError: the name is used in several domains, none of them the client's.
    """
    from airfoil.core.errors import ConflictError, NotFoundError

    if domain:
        return call(domain)
    try:
        return call(None)
    except ConflictError as several:
        try:
            return call(client.domain)
        except NotFoundError:
            raise several from None


def remote_detail(client: Any, ref: str, domain: str | None = None) -> Any:
    """The server's execution ``ref`` (see :func:`addressed`)."""
    return addressed(client, domain, lambda d: client.get(ref, domain=d))


def remote_show(
    server: str | None,
    project: str | None,
    execution_id: str,
    as_json: bool,
    domain: str | None = None,
) -> None:
    """Show an execution of the server: the ``run --json`` object, or a node table
    (``domain``: the one of a name the project uses in several)."""
    from airfoil.cli._history import print_anomalies, rule_given
    from airfoil.cli._render import node_table, sort_nodes

    with _client(server, project) as client:
        detail = remote_detail(client, execution_id, domain)
        found = client.anomalies(detail.id, **rule_given()).model_dump(mode="json")["items"]
        shown = run_label(detail.name or detail.id, detail.domain, client.domain)
    out = remote_execution_json(detail)
    out["anomalies"] = found
    out["unreadable"] = [u.model_dump() for u in detail.unreadable]
    for u in detail.unreadable:  # its parts the server could not read: the rest is shown
        say_unreadable(u.model_dump())
    if as_json:
        out_console.print_json(json.dumps(out, default=str))
        return
    out_console.print(
        Text.assemble(
            "execution ", (shown, "bold"), f"  {detail.workflow} @ {detail.version}  {detail.phase}"
        )
    )
    types = {n.id: n.task_type for n in detail.nodes if n.task_type not in ("", "python")}
    out_console.print(
        node_table(sort_nodes([_node_record(detail.id, n) for n in detail.nodes]), types=types)
    )
    print_anomalies(found)
    if out["outputs"]:
        out_console.print("outputs:")
        out_console.print_json(json.dumps(out["outputs"], default=str))
    if detail.error is not None:
        out_console.print(
            Text.assemble(
                (f"{detail.error.kind} error", "red"),
                f" {detail.error.type}: {detail.error.message}",
            )
        )


def remote_terminate(
    server: str | None, project: str | None, execution_id: str, domain: str | None = None
) -> None:
    """Terminate (abort) an execution on the server (``domain``: see :func:`addressed`)."""
    with _client(server, project) as client:
        ex = addressed(client, domain, lambda d: client.terminate(execution_id, domain=d))
        shown = run_label(ex.name or ex.id, ex.domain, client.domain)
    plain(err_console, f"execution {shown}: {ex.phase} (termination requested)")


def remote_again(
    server: str | None,
    project: str | None,
    execution_id: str,
    how: str,
    as_json: bool,
    domain: str | None = None,
) -> None:
    """``recover`` or ``relaunch`` an execution on the server, then follow the new one (in
    the domain of the one it repeats)."""
    with _client(server, project) as client:
        again = client.recover if how == "recover" else client.relaunch
        ex = addressed(client, domain, lambda d: again(execution_id, domain=d))
        shown = run_label(ex.name or ex.id, ex.domain, client.domain)
        follow(client, ex.id, f"{how}s {execution_id} on {client.shown_url}", as_json, shown)


def remote_cache_explanation(
    server: str | None, project: str | None, execution_id: str, node: str, domain: str | None
) -> dict[str, Any]:
    """The server's explanation of a node's cache status, as ``airfoil cache explain`` prints
    it (the same JSON as a local explain)."""
    with _client(server, project) as client:
        why = addressed(
            client, domain, lambda d: client.cache_explanation(execution_id, node, domain=d)
        )
    out: dict[str, Any] = why.model_dump(mode="json")
    return out


def remote_logs(
    server: str | None,
    project: str | None,
    execution_id: str,
    node: str | None,
    attempt: int | None,
    level: str | None = None,
    rank: int | None = None,
    domain: str | None = None,
) -> None:
    """Print the logs of an execution's attempts on the server (one node, or every node;
    ``level``: only entries at that level or above; ``rank``: a training task's rank's log;
    ``domain``: see :func:`addressed`)."""
    from airfoil.core.errors import NotFoundError
    from airfoil.core.log_lines import filter_level

    with _client(server, project) as client:
        detail = remote_detail(client, execution_id, domain)
        eid, nodes = detail.id, detail.nodes  # by its id from here: the run found, each time
        if node is not None:
            nodes = [n for n in nodes if n.id == node]
            if not nodes:
                raise NotFoundError(f"node {node!r} of execution {execution_id!r} does not exist")
        shown = 0
        for n in nodes:
            for a in n.attempt_list:
                if attempt is not None and a.attempt != attempt:
                    continue
                of_rank = "" if rank is None else f" rank {rank}"
                title = f"== {n.id} attempt {a.attempt}{of_rank} ({a.phase})"
                out_console.print(title, markup=False, style="bold")
                if rank is not None:
                    try:
                        text = client.logs(eid, n.id, attempt=a.attempt, rank=rank).text
                    except NotFoundError:
                        text = f"(no log of rank {rank})"
                else:
                    text = client.logs(eid, n.id, attempt=a.attempt).text if a.has_log else ""
                if level is not None:
                    text = filter_level(text, level)
                out_console.print(text.rstrip() or "(no output)", markup=False, highlight=False)
                shown += 1
        if attempt is not None and not shown:
            from airfoil.cli._logs import no_such_attempt

            have = [a.attempt for n in nodes for a in n.attempt_list]
            raise no_such_attempt(attempt, node, detail.name or eid, have)
        if not shown:
            err_console.print("no attempts match")


def remote_signal(
    server: str | None,
    project: str | None,
    execution_id: str,
    name: str,
    value: str,
    domain: str | None = None,
) -> None:
    """Answer a gate of an execution on the server (checked against the gate's type there;
    ``domain``: see :func:`addressed`)."""
    with _client(server, project) as client:
        addressed(client, domain, lambda d: client.signal(execution_id, name, value, domain=d))
    where = f" ({domain})" if domain else ""
    plain(err_console, f"sent {name}={value} to execution {execution_id}{where} on the server")


@remote_app.command("list")
@handle_errors
def _list_cmd(
    server: str = _SERVER,
    project: str = _PROJECT,
    phase: str = typer.Option(None, "--phase"),
    workflow: str = typer.Option(None, "--workflow"),
    limit: int = typer.Option(20, "--limit"),
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """List the server's executions, newest first (= executions list --remote)."""
    remote_list(server, project, phase=phase, workflow=workflow, limit=limit, as_json=as_json)


@remote_app.command("show")
@handle_errors
def _show_cmd(
    execution_id: str = typer.Argument(...),
    server: str = _SERVER,
    project: str = _PROJECT,
    as_json: bool = typer.Option(True, "--json/--table"),
    domain: str = RUN_DOMAIN,
) -> None:
    """Show an execution of the server (= executions show --remote)."""
    remote_show(server, project, execution_id, as_json, domain)


@remote_app.command("terminate")
@handle_errors
def _terminate_cmd(
    execution_id: str = typer.Argument(...),
    server: str = _SERVER,
    project: str = _PROJECT,
    domain: str = RUN_DOMAIN,
) -> None:
    """Terminate an execution on the server (= executions abort --remote)."""
    remote_terminate(server, project, execution_id, domain)


def register(app: typer.Typer) -> None:
    app.command("register", help="Register a file's tasks and workflows with the server.")(
        _register_cmd
    )
    app.add_typer(remote_app, name="remote", help="Run and inspect executions on a server.")
