"""``airfoil cache list / explain / clear``.

Entries belong to a scope: the project they were written in (``AIRFOIL_PROJECT``) or a shared
scope a task opted into (``cache_scope=``). ``list`` and ``clear`` act on the current project's
entries and the shared ones (``--all-projects`` for every entry of the store).
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import typer
from rich.table import Table

from airfoil.cli._common import err_console, fail, handle_errors, out_console, runtime
from airfoil.core.records import CacheEntry

__all__ = ["app"]

app = typer.Typer(no_args_is_help=True)


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


def _visible(rt: Any, all_projects: bool, task: str | None) -> list[CacheEntry]:
    entries: list[CacheEntry] = rt.meta.list_cache(task=task)
    if all_projects:
        return entries
    mine = f"project:{rt.settings.project}"
    return [
        e for e in entries if e.parts.scope in (mine, "") or e.parts.scope.startswith("shared:")
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
    rt = runtime()
    entries = _visible(rt, all_projects, resolve_task(rt.meta, task) if task else None)
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
            f"{e.execution_id}/{e.node_id}",
        )
    out_console.print(table)


@app.command("explain")
@handle_errors
def explain(
    execution_id: str = typer.Argument(..., help="Execution id."),
    node: str = typer.Argument(..., help="Node id (see `airfoil executions show`)."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Explain why a node did or did not hit the cache, part by part of the key; for a
    changed code version, which functions and constants changed (with a short diff)."""
    from airfoil.engine.cache import explain_miss

    rt = runtime()
    rec = rt.meta.get_node(execution_id, node)
    if as_json:
        parts = rec.cache_key_parts
        entry = rt.meta.get_cache(rec.cache_key) if rec.cache_key else None
        others = (
            [e for e in rt.meta.find_cache_by_task(parts.task) if e.key != rec.cache_key]
            if parts is not None
            else []
        )
        out_console.print_json(
            json.dumps(
                {
                    "execution_id": execution_id,
                    "node": node,
                    "task": rec.task,
                    "cache": rec.cache_status,
                    "reason": rec.cache_reason,
                    "key": rec.cache_key or None,
                    "parts": None
                    if parts is None
                    else {
                        "task": parts.task,
                        "cache_version": parts.cache_version,
                        "interface_hash": parts.interface_hash,
                        "inputs": parts.input_hashes,
                    },
                    "entry_now": None
                    if entry is None
                    else {"execution_id": entry.execution_id, "node_id": entry.node_id},
                    "miss_now": None
                    if entry is not None or parts is None
                    else explain_miss(parts, others),
                }
            )
        )
        return
    if rec.cache_status == "disabled":
        out_console.print(
            f"node {node} ({rec.task}): caching is off for this task (use @task(cache=True))"
        )
        return
    parts = rec.cache_key_parts
    out_console.print(f"node {node} ({rec.task}): cache [bold]{rec.cache_status}[/]")
    out_console.print(f"  reason: {rec.cache_reason or '-'}", markup=False)
    if parts is None:
        out_console.print("  (no cache key was computed: the node did not get its inputs)")
        return
    out_console.print(f"  key:            {rec.cache_key}")
    out_console.print(f"  task:           {parts.task}")
    out_console.print(f"  scope:          {parts.scope or '-'}", markup=False)
    out_console.print(f"  cache version:  {parts.cache_version}")
    out_console.print(f"  interface hash: {parts.interface_hash}")
    for name, digest in sorted(parts.input_hashes.items()):
        out_console.print(f"  input {name}: {digest[:16]}")
    others = [
        e
        for e in rt.meta.find_cache_by_task(parts.task)
        if e.key != rec.cache_key and e.parts.scope == parts.scope
    ]
    now = rt.meta.get_cache(rec.cache_key)
    if now is not None:
        out_console.print(
            f"  today: an entry exists for this key (from {now.execution_id}/{now.node_id})"
        )
    else:
        out_console.print("  today: no entry for this key; " + explain_miss(parts, others))
    _explain_version(rt, parts.cache_version, rec.cache_status, others)


def _explain_version(rt: Any, version: str, status: str, others: list[CacheEntry]) -> None:
    """What changed in the code since the newest other version of the task, and what the
    version cannot see."""
    from airfoil.core.code_versions import diff_versions, load_manifest

    manifest = load_manifest(rt.blobs, version)
    if manifest is None:
        return
    if status != "hit":
        previous = next((e for e in others if e.parts.cache_version != version), None)
        old = load_manifest(rt.blobs, previous.parts.cache_version) if previous else None
        if previous is not None and old is not None:
            out_console.print(
                f"  code changed since version {previous.parts.cache_version} "
                f"(cached by {previous.execution_id}/{previous.node_id}):"
            )
            for line in diff_versions(old, manifest):
                out_console.print(f"    {line}", markup=False, highlight=False)
    if manifest.unhashable:
        out_console.print("  not covered by the version (changes to these are not seen):")
        for name, reason in manifest.unhashable.items():
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
        n = sum(rt.meta.delete_cache(key=e.key) for e in _visible(rt, False, task))
    err_console.print(f"deleted {n} cache entr{'y' if n == 1 else 'ies'}")
