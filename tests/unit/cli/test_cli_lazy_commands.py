"""The ``airfoil`` root group loads a command's module only when that command is used, and
its table of commands (``airfoil.cli.main.COMMANDS``) cannot drift from what the modules
register."""

from __future__ import annotations

import subprocess
import sys
from collections import defaultdict

import pytest
import typer
import typer.main

from airfoil.cli._lazy import LazyCommands, load_commands
from airfoil.cli.main import COMMANDS, app


def test_each_loader_registers_exactly_the_commands_the_table_gives_it() -> None:
    by_loader: dict[object, set[str]] = defaultdict(set)
    for name, loader in COMMANDS.items():
        by_loader[loader].add(name)
    for loader, names in by_loader.items():
        assert set(load_commands(loader)) == names, loader


def test_the_lazy_app_has_every_command_of_the_eager_app() -> None:
    """Every module registered into one plain Typer app (what the CLI was before it was
    lazy) gives the same commands, with the same help, in the same order as the lazy root."""
    eager = typer.Typer(add_completion=False)
    done: set[object] = set()
    for loader in COMMANDS.values():
        if loader not in done:
            done.add(loader)
            loader(eager)
    eager_group = typer.main.get_group(eager)
    lazy_group = typer.main.get_command(app)
    assert isinstance(lazy_group.commands, LazyCommands)  # type: ignore[attr-defined]
    ctx = typer.Context(lazy_group)
    listed = lazy_group.list_commands(ctx)  # type: ignore[attr-defined]
    assert set(listed) == set(eager_group.commands)
    for name in listed:
        lazy = lazy_group.get_command(ctx, name)  # type: ignore[attr-defined]
        assert lazy is not None
        assert lazy.get_short_help_str() == eager_group.commands[name].get_short_help_str()


def test_names_need_no_loading_and_unknown_names_are_not_commands() -> None:
    calls: list[str] = []

    def loader(app_: typer.Typer) -> None:
        calls.append("loaded")

        @app_.command("one")
        def one() -> None:
            """One."""

        @app_.command("two")
        def two() -> None:
            """Two."""

    commands = LazyCommands({"one": loader, "two": loader}, {})
    assert list(commands) == ["one", "two"] and "two" in commands and len(commands) == 2
    assert calls == []
    assert commands.get("nope") is None
    assert commands["one"].name == "one"
    assert commands["two"].name == "two"
    assert calls == ["loaded"]  # one import serves every command of the module


def test_a_table_name_its_loader_lacks_is_not_a_command() -> None:
    commands = LazyCommands({"ghost": lambda app_: None}, {})
    with pytest.raises(KeyError):
        commands["ghost"]


def _modules_after(*argv: str) -> set[str]:
    code = (
        "import sys\n"
        "from airfoil.cli.main import app\n"
        "import typer.main\n"
        "group = typer.main.get_command(app)\n"
        "ctx = typer.Context(group)\n"
        f"argv = {list(argv)!r}\n"
        "if argv == ['--all']:\n"
        "    for name in group.list_commands(ctx):\n"
        "        group.get_command(ctx, name)\n"
        "else:\n"
        "    group.get_command(ctx, argv[0])\n"
        "print('\\n'.join(sorted(m for m in sys.modules if m.startswith('airfoil.cli.'))))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    return set(out.split())


def test_a_command_imports_only_its_own_module() -> None:
    run = _modules_after("run")
    assert "airfoil.cli._run" in run
    assert not run & {"airfoil.cli._server", "airfoil.cli._cache", "airfoil.cli._models"}
    assert "airfoil.cli._cache" in _modules_after("cache")
    everything = _modules_after("--all")
    assert {"airfoil.cli._server", "airfoil.cli._remote", "airfoil.cli._models"} <= everything


def test_every_cli_module_with_commands_is_in_the_table() -> None:
    """A new command module (one defining ``register`` or a Typer app) that no loader of
    :data:`COMMANDS` imports would never be reachable from ``airfoil``."""
    from pathlib import Path

    import airfoil.cli

    folder = Path(airfoil.cli.__file__).parent
    defining = {
        f"airfoil.cli.{path.stem}"
        for path in folder.glob("_*.py")
        if "def register" in (text := path.read_text()) or "typer.Typer(" in text
    }
    assert defining, folder
    assert defining <= _modules_after("--all")


def test_no_usage_line_shows_an_argument_in_braces() -> None:
    """Typer writes a required argument as ``{execution_id}``, which reads as a placeholder
    the help forgot to fill in; every command's usage names them as Click does
    (``EXECUTION_ID [NODE]``), and their error hints the same way."""
    import re

    from typer.testing import CliRunner

    root = typer.main.get_command(app)
    runner = CliRunner()
    ctx = typer.Context(root)
    paths: list[list[str]] = []
    for name in root.list_commands(ctx):  # type: ignore[attr-defined]
        command = root.get_command(ctx, name)  # type: ignore[attr-defined]
        subs = getattr(command, "commands", {})
        paths += [[name, sub] for sub in subs] if subs else [[name]]
    assert ["executions", "show"] in paths and ["metrics"] in paths
    for path in paths:
        result = runner.invoke(app, [*path, "--help"], env={"COLUMNS": "200"})
        assert result.exit_code == 0, (path, result.output)
        usage = next(line for line in result.output.splitlines() if "Usage:" in line)
        assert not re.search(r"\{\w+\}", usage), (path, usage)
    metrics = runner.invoke(app, ["metrics", "--help"], env={"COLUMNS": "200"}).output
    assert "airfoil metrics [OPTIONS] EXECUTION_ID [NODE]" in metrics
    missing = runner.invoke(app, ["executions", "show"], env={"COLUMNS": "200"})
    assert "Missing argument 'EXECUTION_ID'" in missing.output
