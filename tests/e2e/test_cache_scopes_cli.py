"""``airfoil cache scopes`` in a local home, as a user types it: an undeclared scope is open
to every project (one user, no admin: as before members existed); once declared, only its
members use it, locally too, and a refused run says which command grants it."""

from __future__ import annotations

import json
import textwrap
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.e2e

FLOW = textwrap.dedent(
    """
    import airfoil as af

    @af.task(cache=True, cache_scope="team")
    def t(x: int) -> int:
        return x + 1

    @af.workflow
    def wf(x: int = 1) -> int:
        return t(x=x)
    """
)


Cli = Callable[..., Any]


def _as(cli: Cli, who: str) -> Cli:
    """The CLI as project ``who`` (AIRFOIL_PROJECT)."""
    return lambda *args: cli(*args, env={"AIRFOIL_PROJECT": who})


def test_declared_scopes_are_members_only_locally_too(cli: Cli, tmp_path: Path) -> None:
    (tmp_path / "flow.py").write_text(FLOW)
    alpha, beta = _as(cli, "alpha"), _as(cli, "beta")

    def run(who: str) -> Any:
        return _as(cli, who)("run", "--json", "flow.py", "wf")

    assert run("alpha").code == 0  # undeclared: open
    assert run("beta").code == 0
    made = alpha("cache", "scopes", "create", "team")
    assert made.code == 0, made.err
    granted = alpha("cache", "scopes", "grant", "team", "alpha")
    assert granted.code == 0 and "alpha (write)" in granted.err
    assert run("alpha").code == 0
    refused = run("beta")  # declared, and beta is no member
    assert refused.code != 0
    assert "project 'beta' may not use cache scope 'team'" in refused.err, refused.err
    assert "airfoil cache scopes grant team beta" in refused.err
    alpha("cache", "scopes", "grant", "team", "beta", "--read")
    read = run("beta")
    assert read.code == 0, read.err
    node = next(n for n in json.loads(read.out)["nodes"] if n["id"] == "n0")
    assert node["cache"] == "hit"
    listed = _as(cli, "x")("cache", "scopes", "list", "--json")
    assert json.loads(listed.out)[0]["members"] == {"alpha": "write", "beta": "read"}
    mine = beta("cache", "scopes", "mine", "--json")
    assert json.loads(mine.out)[0]["members"] == {"beta": "read"}


def test_clear_leaves_a_scope_the_project_may_not_write(cli: Cli, tmp_path: Path) -> None:
    """`airfoil cache clear` as a project cleared every shared entry, those of scopes it is
    no member of (or only reads) included; now it clears what it may write. Fails on main
    (the `cache scopes` commands did not exist; without them: any scope's entries went)."""
    (tmp_path / "flow.py").write_text(FLOW)
    alpha, beta = _as(cli, "alpha"), _as(cli, "beta")
    alpha("cache", "scopes", "create", "team")
    alpha("cache", "scopes", "grant", "team", "alpha")
    alpha("cache", "scopes", "grant", "team", "beta", "--read")
    assert alpha("run", "flow.py", "wf").code == 0
    listed = beta("cache", "list", "--json")
    assert len(json.loads(listed.out)) == 1  # a reader sees the scope's entries
    assert json.loads(_as(cli, "gamma")("cache", "list", "--json").out) == []
    for who in ("beta", "gamma"):
        cleared = _as(cli, who)("cache", "clear", "--yes")
        assert "deleted 0 cache entries" in cleared.err, cleared.err
    cleared = alpha("cache", "clear", "--yes")
    assert "deleted 1 cache entry" in cleared.err, cleared.err


def test_a_former_members_explain_shows_nothing_of_the_scope(cli: Cli, tmp_path: Path) -> None:
    """`airfoil cache explain` of beta's old run, after beta was revoked, showed the entry
    its run wrote in the scope (main: `today: an entry exists for this key`), which beta may
    no longer read; now it says why the scope's entries are not shown."""
    (tmp_path / "flow.py").write_text(FLOW)
    alpha, beta = _as(cli, "alpha"), _as(cli, "beta")
    alpha("cache", "scopes", "create", "team")
    alpha("cache", "scopes", "grant", "team", "beta")
    assert beta("run", "--name", "b1", "flow.py", "wf").code == 0
    assert alpha("cache", "scopes", "revoke", "team", "beta").code == 0
    told = beta("cache", "explain", "b1", "n0")
    assert told.code == 0, told.err
    assert "today: project 'beta' may not read cache scope 'team' now" in told.out, told.out
    assert "entry exists" not in told.out
    why = json.loads(beta("cache", "explain", "b1", "n0", "--json").out)
    assert why["entry_now"] is None and why["scope_closed"]
