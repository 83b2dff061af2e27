"""``airfoil cache list / explain / clear``.

Entries belong to a scope: the project they were written in (``AIRFOIL_PROJECT``) or a shared
scope a task opted into (``cache_scope=``). ``list`` and ``clear`` act on the current project's
entries and those of the shared scopes it may read (list) or write (clear): a declared scope's
members only (``--all-projects`` for every entry of the store).
"""

from __future__ import annotations

import datetime as dt
import json
from typing import TYPE_CHECKING, Any

import typer

from airfoil.cli._common import (
    RUN_DOMAIN,
    err_console,
    fail,
    handle_errors,
    local_execution,
    out_console,
    plain,
    run_label,
    runtime,
    say,
)
from airfoil.cli._table import Table
from airfoil.core.records import CacheEntry
from airfoil.engine.cache import project_scopes

if TYPE_CHECKING:
    from airfoil.local import LocalRuntime

__all__ = ["app"]

app = typer.Typer(no_args_is_help=True)


def _add_scopes() -> None:
    from airfoil.cli._cache_scopes import app as scopes

    app.add_typer(scopes, name="scopes", help="Who may read and write each named cache scope.")


_add_scopes()


def resolve_task(meta: Any, given: str) -> str:
    """The full name of the task ``given`` names: itself, or the one task with cached
    results whose name ends with ``.given`` (``load`` for ``pipeline.load``).

    Raises:
        NotFoundError: no task with cached results has that name; the message lists those
            that do (several matching short names are listed too).
    """
    from airfoil.core.errors import NotFoundError

    names: list[str] = sorted({e.parts.task for e in meta.list_cache(limit=100_000)})
    if given in names:
        return given
    matches = [n for n in names if n.rsplit(".", 1)[-1] == given or n.endswith("." + given)]
    if len(matches) == 1:
        return matches[0]
    if matches:
        raise NotFoundError(f"several tasks are named {given!r}: {', '.join(matches)}; give one")
    if not names:
        raise NotFoundError(f"no cached results of task {given!r}: the cache is empty")
    raise NotFoundError(
        f"no cached results of task {given!r}; tasks with cached results: {', '.join(names)}"
    )


def _visible(
    rt: LocalRuntime, all_projects: bool, task: str | None, need: str = "read"
) -> list[CacheEntry]:
    """The entries of the current project, and of the shared scopes it may use (``need``:
    ``read`` to list them, ``write`` to clear them; an undeclared scope is open locally)."""
    from airfoil.engine._scope_gate import SHARED, ScopeGate

    entries: list[CacheEntry] = rt.meta.list_cache(task=task)
    if all_projects:
        return entries
    project = rt.settings.project
    gate = ScopeGate(rt.meta, project, declared_only=False)
    ok = ("read", "write") if need == "read" else ("write",)
    return [
        e
        for e in entries
        if not e.parts.scope
        or project_scopes(e.parts.scope, project)
        or (e.parts.scope.startswith(SHARED) and gate.access(e.parts.scope) in ok)
    ]


@app.command("list")
@handle_errors
def list_cache(
    task: str = typer.Option(
        None,
        "--task",
        help="Only entries of this task (its full name, or its short name if that is unique).",
    ),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
    all_projects: bool = typer.Option(
        False, "--all-projects", help="Entries of every project, not only the current one."
    ),
) -> None:
    """List cached task results, newest first."""
    from airfoil.store.naming import ExecutionNames

    rt = runtime()
    entries = _visible(rt, all_projects, resolve_task(rt.meta, task) if task else None)
    names = ExecutionNames(rt.meta, rt.settings.project)
    if as_json:
        out_console.print_json(
            json.dumps(
                [
                    {
                        "key": e.key,
                        "task": e.parts.task,
                        "cache_version": e.parts.cache_version,
                        "scope": e.parts.scope,
                        "inputs": e.parts.input_hashes,
                        "created_at": e.created_at,
                        "execution_id": e.execution_id,
                        "execution_name": names.shown(e.execution_id),
                        "execution_domain": names.domain(e.execution_id),
                        "node_id": e.node_id,
                    }
                    for e in entries
                ]
            )
        )
        return
    table = Table()
    for col in ("key", "task", "version", "created", "from"):
        table.add_column(col)
    for e in entries:
        table.add_row(
            e.key[:12],
            e.parts.task,
            e.parts.cache_version,
            dt.datetime.fromtimestamp(e.created_at).strftime("%Y-%m-%d %H:%M:%S"),
            _made_by(names, e.execution_id, e.node_id, all_projects, rt.settings.domain),
        )
    out_console.print(table)


def _made_by(names: Any, execution_id: str, node_id: str, all_projects: bool, home: str) -> str:
    """Which run wrote an entry, as the project names it: ``NAME/NODE`` (``NAME (DOMAIN)``
    outside ``home``, see :func:`run_label`); another project's run is not named (with
    ``--all-projects``, by its id and project)."""
    name = names.of(execution_id)
    if name is not None:
        return f"{run_label(name, names.domain(execution_id), home)}/{node_id}"
    if all_projects:
        from airfoil.core.errors import NotFoundError

        try:
            head = names.meta.get_execution_head(execution_id)
        except NotFoundError:
            return f"{execution_id}/{node_id} (gone)"
        return f"{head.display_name}/{node_id} (project {head.project})"
    return "another project"


@app.command("explain")
@handle_errors
def explain(
    execution_id: str = typer.Argument(..., help="Execution name (in the project) or id."),
    node: str = typer.Argument(..., help="Node id (see `airfoil executions show`)."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
    remote: bool = typer.Option(
        False, "--remote", help="On the server (--server or AIRFOIL_SERVER_URL), not locally."
    ),
    server: str = typer.Option(None, "--server", help="Server URL (implies --remote)."),
    project: str = typer.Option(
        None, "--project", help="Server project (default: AIRFOIL_PROJECT)."
    ),
    domain: str = RUN_DOMAIN,
) -> None:
    """Explain why a node did or did not hit the cache, part by part of the key; for a
    changed code version, which functions and constants changed (with a short diff)."""
    if remote or server:
        from airfoil.cli._remote import remote_cache_explanation

        why = remote_cache_explanation(server, project, execution_id, node, domain)
    else:
        from airfoil.engine.cache_explain import explain_node

        rt = runtime()
        eid = local_execution(rt, execution_id, domain)
        # a local home's rule, as for `cache list`: an undeclared scope is open
        why = explain_node(rt.meta, rt.blobs, eid, node, declared_only=False)
    if as_json:
        out_console.print_json(json.dumps(why))
        return
    _print_explanation(why)


def _ref(ref: dict[str, Any]) -> str:
    """``NAME/NODE`` of the run that wrote an entry (its name in the project)."""
    if not ref["execution_id"]:
        return "another project"
    return f"{ref.get('execution_name') or ref['execution_id']}/{ref['node_id']}"


def _print_explanation(why: dict[str, Any]) -> None:
    node, task, status = why["node"], why["task"], why["cache"]
    if status == "disabled":
        plain(
            out_console,
            f"node {node} ({task}): caching is off for this task (use @task(cache=True))",
        )
        return
    say(out_console, f"node {node} ({task}): cache ", (status, "bold"))
    out_console.print(f"  reason: {why['reason'] or '-'}", markup=False)
    parts = why["parts"]
    if parts is None:
        if why.get("kind") == "map":  # each item was looked up on its own key
            out_console.print(
                "  (a map has no key of its own: each item is cached under its own inputs' "
                "key, and the reason counts the items served from the cache)"
            )
        else:
            out_console.print("  (no cache key was computed: the node did not get its inputs)")
        return
    plain(out_console, f"  key:            {why['key']}")
    plain(out_console, f"  task:           {parts['task']}")
    out_console.print(f"  scope:          {parts['scope'] or '-'}", markup=False)
    plain(out_console, f"  cache version:  {parts['cache_version']}")
    plain(out_console, f"  interface hash: {parts['interface_hash']}")
    for name, digest in sorted(parts["inputs"].items()):
        plain(out_console, f"  input {name}: {digest[:16]}")
    now = why["entry_now"]
    if why.get("scope_closed"):
        out_console.print(f"  today: {why['scope_closed']}", markup=False)
    elif now is not None:
        made_by = _ref(now)
        plain(out_console, f"  today: an entry exists for this key (from {made_by})")
    else:
        out_console.print(f"  today: no entry for this key; {why['miss_now']}", markup=False)
    changes = why["code_changes"]
    if changes is not None:
        by = changes["cached_by"]
        made_by = _ref(by)
        plain(
            out_console,
            f"  code changed since version {changes['since_version']} (cached by {made_by}):",
        )
        for line in changes["lines"]:
            out_console.print(f"    {line}", markup=False, highlight=False)
    if why["not_covered"]:
        out_console.print("  not covered by the version (changes to these are not seen):")
        for name, reason in why["not_covered"].items():
            out_console.print(f"    {name}: {reason}", markup=False, highlight=False)
        out_console.print("    pin cache_version= on the task and bump it when they change")


@app.command("clear")
@handle_errors
def clear(
    task: str = typer.Option(
        None,
        "--task",
        help="Only entries of this task (its full name, or its short name if that is unique).",
    ),
    yes: bool = typer.Option(False, "--yes", "-y", help="Do not ask for confirmation."),
    all_projects: bool = typer.Option(
        False, "--all-projects", help="Entries of every project, not only the current one."
    ),
) -> None:
    """Delete cached results (of one task, or all) of the current project."""
    rt = runtime()
    if task:
        task = resolve_task(rt.meta, task)
    what = f"the cache of task {task!r}" if task else "the whole cache"
    where = "of every project" if all_projects else f"of project {rt.settings.project!r}"
    if not yes and not typer.confirm(f"delete {what} {where}?", default=False):
        fail("cancelled", code=1)
    if all_projects:
        n = rt.meta.delete_cache(task=task)
    else:
        shown = _visible(rt, False, task, need="write")
        n = sum(rt.meta.delete_cache(key=e.key) for e in shown)
    err_console.print(f"deleted {n} cache entr{'y' if n == 1 else 'ies'}")
