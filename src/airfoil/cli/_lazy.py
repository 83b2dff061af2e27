"""A command group that imports a command's module only when that command is asked for.

``airfoil run`` must not pay for importing (and building the parameters of) every other
command: the group's ``commands`` is a mapping that knows every name from a table
(``name -> loader``) and converts a loader's commands the first time one of its names is
looked up. Listing every command (``airfoil --help``, completion) loads them all; the names
alone (an unknown command's "did you mean") need no loading.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, MutableMapping
from typing import Any

import typer
import typer.core
import typer.main

__all__ = ["LazyCommands", "Loader", "load_commands", "show_flags_as_flags"]

#: Adds one module's commands to the Typer app it is given (a plain local import inside).
Loader = Callable[[typer.Typer], None]


def _usage_pieces(param: Any) -> Callable[[Any], list[str]]:
    """An argument's piece of the usage line as Unix and Click write it (``FILE``,
    ``[NODE]``, ``FILES...``): Typer writes a required one in braces (``{execution_id}``),
    which reads as a placeholder its help forgot to fill in."""

    def pieces(_ctx: Any) -> list[str]:
        name = param.metavar or (param.name or "").upper()
        shown = name if param.required else f"[{name}]"
        return [shown + ("..." if param.nargs != 1 else "")]

    return pieces


def show_flags_as_flags(command: Any, *, subcommands: bool = True) -> None:
    """Boolean flags take no value: keep help from listing them as ``--json <bool>``
    (Typer prints a type for every option), and arguments are named in capitals, required
    ones bare in the usage line (see :func:`_usage_pieces`), on ``command`` and (unless
    ``subcommands`` is false: the lazy root's would all load) every command under it."""
    for param in getattr(command, "params", ()):
        if getattr(param, "is_flag", False) and param.metavar is None:
            param.metavar = ""
        if getattr(param, "param_type_name", "") == "argument":
            if param.metavar is None:
                param.metavar = (param.name or "").upper()
            param.get_usage_pieces = _usage_pieces(param)
    make_help = command.get_help_option

    def help_option(ctx: Any) -> Any:
        option = make_help(ctx)
        if option is not None and option.metavar is None:
            option.metavar = ""
        return option

    command.get_help_option = help_option
    if not subcommands:
        return
    for sub in getattr(command, "commands", {}).values():
        show_flags_as_flags(sub)


def load_commands(loader: Loader) -> dict[str, Any]:
    """The click commands ``loader`` registers, by name, converted as the root app would."""
    app = typer.Typer(add_completion=False)
    loader(app)
    group = typer.main.get_group(app)
    for command in group.commands.values():
        show_flags_as_flags(command)
    return dict(group.commands)


class LazyCommands(MutableMapping[str, Any]):
    """The root group's commands: every name of ``table`` (in its order) and the commands
    added directly; a name's module is imported and converted on first lookup."""

    def __init__(self, table: Mapping[str, Loader], added: Mapping[str, Any]) -> None:
        self._table = dict(table)
        self._loaded: dict[str, Any] = dict(added)

    def __getitem__(self, name: str) -> Any:
        if name not in self._loaded:
            loader = self._table.get(name)
            if loader is None:
                raise KeyError(name)
            for loaded, command in load_commands(loader).items():
                self._loaded.setdefault(loaded, command)
            if name not in self._loaded:  # the table names a command its loader lacks
                raise KeyError(name)
        return self._loaded[name]

    def __setitem__(self, name: str, command: Any) -> None:
        self._loaded[name] = command

    def __delitem__(self, name: str) -> None:
        self._table.pop(name, None)
        del self._loaded[name]

    def __iter__(self) -> Iterator[str]:
        yield from self._table
        yield from (name for name in self._loaded if name not in self._table)

    def __len__(self) -> int:
        return len(self._table) + sum(1 for name in self._loaded if name not in self._table)

    def __contains__(self, name: object) -> bool:
        return name in self._table or name in self._loaded
