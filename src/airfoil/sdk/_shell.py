"""``af.shell_task``: a shell script with typed inputs and declared, typed outputs.

The task type ``shell``: the worker's runner reads the script, the shell and the outputs from
the spec's config (:class:`ShellConfig`, part of the task's version, so editing the script
re-runs it and never returns a stale cached result) and runs the script with ``SHELL -c`` in a
fresh directory of the attempt. ``{inputs.NAME}`` is replaced by the input's value (a file's or
directory's local path), shell-quoted unless ``quote=False``; ``{outputs.NAME}`` by the
output's location. Each output is a location the script writes: a ``File`` or ``Directory``
is taken as it is, a ``str`` / ``int`` / ``float`` / ``bool`` is read from the file's text. A
non-zero exit fails the attempt as a user error ending with the tail of the script's stderr.
"""

from __future__ import annotations

import os
import shlex
from collections.abc import Callable, Mapping
from typing import Any

import msgspec

from airfoil.core.errors import ConfigError, DefinitionError, UserError
from airfoil.sdk._command_tasks import (
    PLACEHOLDER,
    SCALAR_KINDS,
    caller_module,
    check_name,
    check_placeholders,
    declare,
    outputs_type,
    parse_scalar,
    run_command,
    work_directory,
)
from airfoil.sdk._task import TaskDef
from airfoil.types import Directory, File

__all__ = ["SHELL_TYPE", "ShellConfig", "ShellOutput", "run_shell", "shell_task"]

#: The task type name of shell tasks.
SHELL_TYPE = "shell"


class ShellOutput(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """One declared output: its name, kind (``file``, ``directory``, ``str``, ``int``,
    ``float``, ``bool``) and location (relative to the script's directory; may name inputs)."""

    name: str
    kind: str
    location: str


class ShellConfig(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """A shell task's settings (``TaskSpec.config``).

    Attributes:
        script: the script, with ``{inputs.NAME}`` / ``{outputs.NAME}`` placeholders.
        shell: the program run as ``shell -c script``.
        outputs: the declared outputs, in order.
        quote: shell-quote the inputs' values where they are placed in the script.
        debug: print the script as run into the attempt's log.
    """

    script: str
    shell: str = "/bin/sh"
    outputs: tuple[ShellOutput, ...] = ()
    quote: bool = True
    debug: bool = False

    @staticmethod
    def decode(data: Mapping[str, Any]) -> ShellConfig:
        """The config of a spec.

        Raises:
            ConfigError: the data is not a shell task's config.
        """
        try:
            return msgspec.convert(dict(data), ShellConfig)
        except msgspec.ValidationError as exc:
            raise ConfigError(f"invalid shell task config: {exc}") from None


def output_kind(tp: Any) -> str | None:
    """The kind of an output type (None: not one a command can produce)."""
    if isinstance(tp, type):
        if issubclass(tp, File):
            return "file"
        if issubclass(tp, Directory):
            return "directory"
    for kind, scalar in SCALAR_KINDS.items():
        if tp is scalar:
            return kind
    return None


def as_text(value: Any) -> str:
    """An input's text in a command: a file's or directory's path, an enum's value, else
    ``str(value)``."""
    if isinstance(value, File | Directory):
        return value.path
    path = getattr(value, "path", None)  # file-like values of plugins (a local path)
    if isinstance(path, str):
        return path
    enum_value = getattr(type(value), "_value2member_map_", None)
    if enum_value is not None:
        return str(value.value)
    return str(value)


def render(
    template: str, inputs: Mapping[str, Any], outputs: Mapping[str, str], quote: bool
) -> str:
    """``template`` with its placeholders replaced (inputs quoted for the shell if asked)."""

    def sub(m: Any) -> str:
        var = m.group(2)
        text = as_text(inputs[var]) if m.group(1) == "inputs" else outputs[var]
        return shlex.quote(text) if quote else text

    return PLACEHOLDER.sub(sub, template)


def run_shell(
    task_name: str, config: ShellConfig, kwargs: Mapping[str, Any], out_types: list[Any]
) -> Any:
    """Run a shell task's script with these inputs; its outputs as the task returns them
    (none, the one value, or a tuple in declared order).

    Raises:
        UserError: the script failed, or did not write a declared output.
    """
    work = work_directory("shell-")
    locations: dict[str, str] = {}
    for out in config.outputs:
        where = os.path.join(work, render(out.location, kwargs, {}, quote=False))
        locations[out.name] = where
        os.makedirs(where if out.kind == "directory" else os.path.dirname(where), exist_ok=True)
    script = render(config.script, kwargs, locations, quote=config.quote)
    if config.debug:
        print(f"{'=' * 46}\n{script}\n{'=' * 46}")
    run_command([config.shell, "-c", script], cwd=work, env=None, what=f"shell task {task_name!r}")
    values: list[Any] = []
    for out, tp in zip(config.outputs, out_types, strict=True):
        path = locations[out.name]
        missing = not (os.path.isdir(path) if out.kind == "directory" else os.path.isfile(path))
        if missing:
            raise UserError(
                f"shell task {task_name!r}: the script wrote no {out.kind} at output "
                f"{out.name!r}'s location {out.location!r} ({path})"
            )
        if out.kind in ("file", "directory"):
            values.append(tp(path))
        else:
            with open(path) as f:
                values.append(
                    parse_scalar(
                        f.read(), out.kind, f"shell task {task_name!r} output {out.name!r}"
                    )
                )
    if not values:
        return None
    return values[0] if len(values) == 1 else tuple(values)


OutputDecl = type | tuple[type, str]


def shell_task(
    name: str,
    script: str,
    *,
    inputs: Mapping[str, Any] | None = None,
    outputs: Mapping[str, OutputDecl] | None = None,
    shell: str = "/bin/sh",
    quote: bool = True,
    debug: bool = False,
    _returns: Callable[[Mapping[str, Any]], Any] | None = None,
    _module: str | None = None,
    **options: Any,
) -> TaskDef[..., Any]:
    """Declare a task that runs a shell script.

    Example:
        >>> count = af.shell_task(
        ...     "count_lines",
        ...     "wc -l < {inputs.data} > {outputs.lines}",
        ...     inputs={"data": af.File},
        ...     outputs={"lines": int},
        ... )

    Args:
        name: the task's name (within its module).
        script: the script; ``{inputs.NAME}`` and ``{outputs.NAME}`` are replaced.
        inputs: the typed inputs, by name.
        outputs: the outputs, by name: a type (``File``, ``Directory``, ``str``, ``int``,
            ``float``, ``bool``) written at ``outputs/NAME`` in the script's directory, or a
            ``(type, location)`` pair (a path relative to that directory, or absolute; it may
            name inputs: ``"{inputs.name}.csv"``). One output is the task's value; several are
            a named tuple.
        shell: the shell that runs the script (``shell -c script``).
        quote: shell-quote input values placed in the script (give ``False`` to place them
            as they are, and quote them yourself).
        debug: print the script as run into the attempt's log.
        options: the options of :func:`airfoil.task` (``cache``, ``retries``, ``timeout``...).

    Raises:
        DefinitionError: a placeholder naming no declared input or output, an output type a
            script cannot produce, an empty script.
    """
    kind = "shell task"
    check_name(kind, name)
    if not isinstance(script, str) or not script.strip():
        raise DefinitionError(f"{kind} {name!r}: the script is empty")
    input_types = dict(inputs or {})
    declared: dict[str, Any] = {}
    outs: list[ShellOutput] = []
    for out_name, decl in (outputs or {}).items():
        tp, location = decl if isinstance(decl, tuple) else (decl, f"outputs/{out_name}")
        if not isinstance(location, str):
            raise DefinitionError(
                f"{kind} {name!r}: output {out_name!r}'s location is {location!r}; give a path "
                "(a str), e.g. (int, 'outputs/count')"
            )
        found = output_kind(tp)
        if found is None:
            raise DefinitionError(
                f"{kind} {name!r}: output {out_name!r} is a {tp!r}; a script's outputs are "
                "File, Directory, str, int, float or bool (a location it writes)"
            )
        check_placeholders(
            kind, name, location, f"output {out_name!r}'s location", input_types, None
        )
        declared[out_name] = tp
        outs.append(ShellOutput(name=out_name, kind=found, location=location))
    check_placeholders(kind, name, script, "the script", input_types, declared)
    config = ShellConfig(script=script, shell=shell, outputs=tuple(outs), quote=quote, debug=debug)
    returns = _returns(declared) if _returns is not None else outputs_type(name, declared)
    out_types = list(declared.values())
    module = _module or caller_module()

    def body(kwargs: dict[str, Any]) -> Any:
        return run_shell(name, config, kwargs, out_types)

    return declare(
        SHELL_TYPE,
        config,
        prefix="shell",
        name=name,
        inputs=input_types,
        returns=returns,
        body=body,
        module=module,
        doc=f"Shell task {name}.",
        options=options,
    )
