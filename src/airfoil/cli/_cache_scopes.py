"""``airfoil cache scopes list / create / grant / revoke / delete``: who may use a named cache
scope (a task's ``cache_scope=``).

The members live in the metadata store: run on the server's host (with its
``AIRFOIL_DATABASE_URL``), or in a local home, these commands change that store directly, as
``airfoil quotas`` does; with ``--remote`` (or ``--server URL``) they go through the server's
``/cache-scopes`` API with ``AIRFOIL_API_KEY`` (a key that is admin of every project).
``airfoil cache scopes mine --remote`` lists the scopes the current project may use.
"""

from __future__ import annotations

import json
import time
from typing import Any

import typer

from airfoil.cli._common import err_console, fail, handle_errors, out_console, runtime, say
from airfoil.cli._table import Table

__all__ = ["app"]

app = typer.Typer(no_args_is_help=True, help="Who may read and write each named cache scope.")

_REMOTE = typer.Option(False, "--remote", help="On the server (AIRFOIL_SERVER_URL), not locally.")
_SERVER = typer.Option(None, "--server", help="Server URL (implies --remote).")


def _remote(remote: bool, server: str | None) -> Any:
    """The server's scopes API, or ``None`` for the local store."""
    if not (remote or server):
        return None
    from airfoil.client import Client
    from airfoil.client._cache_scopes import CacheScopes
    from airfoil.settings import AirfoilSettings

    return CacheScopes(Client(server, project=AirfoilSettings().project))


def _dump(scope: Any) -> dict[str, Any]:
    return {
        "name": scope.name,
        "description": scope.description,
        "created_at": scope.created_at,
        "members": dict(scope.members),
    }


def _print(scopes: list[Any], as_json: bool) -> None:
    if as_json:
        out_console.print_json(json.dumps([_dump(s) for s in scopes]))
        return
    if not scopes:
        err_console.print("no cache scopes declared (`airfoil cache scopes create NAME`)")
        return
    table = Table("scope", "writers", "readers", "description")
    for s in scopes:
        writers = [p for p, a in sorted(s.members.items()) if a == "write"]
        readers = [p for p, a in sorted(s.members.items()) if a == "read"]
        table.add_row(
            s.name,
            ", ".join(writers) or "-",
            ", ".join(readers) or "-",
            s.description,
        )
    out_console.print(table)


def _say_scope(scope: Any, after: str = "") -> None:
    """``cache scope NAME: MEMBERS`` on stderr, the names as they are (never markup)."""
    members = ", ".join(f"{p} ({a})" for p, a in sorted(scope.members.items())) or "no members"
    say(err_console, "cache scope ", (scope.name, "bold"), f": {members}{after}")


@app.command("list")
@handle_errors
def list_scopes(
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
    remote: bool = _REMOTE,
    server: str = _SERVER,
) -> None:
    """Every declared scope and its members."""
    api = _remote(remote, server)
    scopes = api.list().scopes if api is not None else runtime().meta.list_cache_scopes()
    _print(list(scopes), as_json)


@app.command("mine")
@handle_errors
def mine(
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
    remote: bool = _REMOTE,
    server: str = _SERVER,
) -> None:
    """The scopes the current project (AIRFOIL_PROJECT) may use, with its access."""
    api = _remote(remote, server)
    if api is not None:
        _print(list(api.mine().scopes), as_json)
        return
    rt = runtime()
    project = rt.settings.project
    found = []
    for s in rt.meta.list_cache_scopes():
        access = rt.meta.cache_scope_access(s.name, project)
        if access:
            found.append(type(s)(s.name, s.description, s.created_at, {project: access}))
    _print(found, as_json)


@app.command("create")
@handle_errors
def create(
    name: str = typer.Argument(..., help="The scope, as tasks name it in cache_scope=."),
    description: str = typer.Option("", "--description", help="What it holds, who runs it."),
    remote: bool = _REMOTE,
    server: str = _SERVER,
) -> None:
    """Declare a scope with no members (grant them next)."""
    api = _remote(remote, server)
    if api is not None:
        made = api.create(name, description)
    else:
        meta = runtime().meta
        if not meta.create_cache_scope(name, time.time(), description):
            fail(f"cache scope {name!r} exists already (`airfoil cache scopes list`)")
        made = meta.get_cache_scope(name)
    _say_scope(made, f" (grant with `airfoil cache scopes grant {made.name} PROJECT`)")


@app.command("grant")
@handle_errors
def grant(
    name: str = typer.Argument(..., help="The scope."),
    project: str = typer.Argument(..., help="The project ('*': every project)."),
    read: bool = typer.Option(
        False, "--read", help="Read only: its runs hit the scope's entries, never write one."
    ),
    remote: bool = _REMOTE,
    server: str = _SERVER,
) -> None:
    """Make a project a member of a scope (again: replaces its access)."""
    access = "read" if read else "write"
    api = _remote(remote, server)
    if api is not None:
        changed = api.grant(name, project, access)
    else:
        from airfoil.core.errors import NotFoundError

        meta = runtime().meta
        try:
            meta.grant_cache_scope(name, project, access, time.time())
        except NotFoundError:
            fail(f"no cache scope {name!r}: declare it with `airfoil cache scopes create {name}`")
        changed = meta.get_cache_scope(name)
    _say_scope(changed)


@app.command("revoke")
@handle_errors
def revoke(
    name: str = typer.Argument(..., help="The scope."),
    project: str = typer.Argument(..., help="The project ('*' for the every-project grant)."),
    remote: bool = _REMOTE,
    server: str = _SERVER,
) -> None:
    """End a project's membership: its runs lose access to the scope within 2 s."""
    api = _remote(remote, server)
    if api is not None:
        changed = api.revoke(name, project)
    else:
        meta = runtime().meta
        if not meta.revoke_cache_scope(name, project):
            fail(f"project {project!r} is no member of cache scope {name!r}")
        changed = meta.get_cache_scope(name)
    _say_scope(changed)


@app.command("delete")
@handle_errors
def delete(
    name: str = typer.Argument(..., help="The scope."),
    yes: bool = typer.Option(False, "--yes", help="Do not ask."),
    remote: bool = _REMOTE,
    server: str = _SERVER,
) -> None:
    """Remove a scope and its members (its entries stay, unused until it is granted again).

    `airfoil cache clear --all-projects` removes the entries too.
    """
    if not yes and not typer.confirm(f"delete cache scope {name!r} and its members?"):
        fail("not deleted", code=1)
    api = _remote(remote, server)
    if api is not None:
        api.delete(name)
    elif not runtime().meta.delete_cache_scope(name):
        fail(f"no cache scope {name!r}")
    say(err_console, "cache scope ", (name, "bold"), " deleted")
