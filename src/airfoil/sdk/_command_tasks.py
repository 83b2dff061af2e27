"""What the shell, SQL and container task types share: placeholders, the function that gives a
task its typed interface, the work directory, and running a command.

A task of these types is declared by a call (``af.shell_task(...)``), not by decorating a
function: the call synthesises a function whose signature is the declared interface (so the
task is an ordinary :class:`~airfoil.sdk._task.TaskDef`: typed wiring, caching, versions,
every executor) and whose body runs the type's work from the same config the worker's runner
reads from the spec (so a plain call of the function, where no engine records it, does what an
attempt does).

Placeholders are ``{inputs.NAME}`` and ``{outputs.NAME}``; every one is checked against the
declared inputs and outputs when the task is defined.
"""

from __future__ import annotations

import inspect
import os
import re
import subprocess
import sys
import tempfile
import typing
from collections.abc import Callable, Mapping
from typing import Any

import msgspec

from airfoil.core.errors import DefinitionError, UserError
from airfoil.sdk._task import TaskDef, task_of_type

__all__ = [
    "PLACEHOLDER",
    "SCALAR_KINDS",
    "caller_module",
    "check_name",
    "check_placeholders",
    "declare",
    "outputs_type",
    "parse_scalar",
    "placeholders",
    "run_command",
    "synthesise",
    "work_directory",
]

PLACEHOLDER = re.compile(r"\{(inputs|outputs)\.([A-Za-z_][A-Za-z0-9_]*)\}")

#: Output kinds read from a file's text, and their Python types.
SCALAR_KINDS: dict[str, type] = {"str": str, "int": int, "float": float, "bool": bool}

_STDERR_TAIL = 2000


def placeholders(template: str) -> list[tuple[str, str]]:
    """The ``(inputs|outputs, NAME)`` pairs a template names, in order."""
    return [(m.group(1), m.group(2)) for m in PLACEHOLDER.finditer(template)]


def check_placeholders(
    kind: str,
    name: str,
    template: str,
    what: str,
    inputs: Mapping[str, Any],
    outputs: Mapping[str, Any] | None,
) -> None:
    """Raise :class:`DefinitionError` for a placeholder naming no declared input / output
    (``outputs=None``: the template may name no output)."""
    for group, var in placeholders(template):
        known = inputs if group == "inputs" else (outputs or {})
        if var in known:
            continue
        if group == "outputs" and outputs is None:
            raise DefinitionError(
                f"{kind} {name!r}: {what} names {{outputs.{var}}}, but only inputs can be "
                "used there"
            )
        raise DefinitionError(
            f"{kind} {name!r}: {what} names {{{group}.{var}}}, which is not one of its "
            f"{group} ({', '.join(known) or 'none'}): declare it in {group}= or fix the name"
        )


def parse_scalar(text: str, kind: str, where: str) -> Any:
    """The value of a scalar output read from a file's text.

    Raises:
        UserError: the text is not a value of that kind.
    """
    if kind == "str":
        return text.rstrip("\n")
    stripped = text.strip()
    if kind == "bool":
        low = stripped.lower()
        if low in ("true", "1", "yes"):
            return True
        if low in ("false", "0", "no"):
            return False
        raise UserError(f"{where}: {stripped!r} is not a bool (true/false, 1/0, yes/no)")
    try:
        return SCALAR_KINDS[kind](stripped)
    except ValueError:
        raise UserError(
            f"{where}: {stripped[:200]!r} is not a{'n' * (kind == 'int')} {kind}"
        ) from None


def work_directory(prefix: str) -> str:
    """A fresh directory for one run of a command: inside the attempt's scratch directory
    (removed when the attempt ends) or, outside any attempt, a temporary directory."""
    from airfoil.sdk._context import running_context

    running = running_context()
    parent = running.scratch_dir if running is not None else None
    return tempfile.mkdtemp(prefix=prefix, dir=parent)


def run_command(
    argv: list[str],
    *,
    cwd: str,
    env: Mapping[str, str] | None,
    what: str,
) -> None:
    """Run ``argv``; its output goes to the attempt's log (stdout and stderr).

    The process is killed if the attempt is interrupted or times out while it runs.

    Raises:
        UserError: it exited with a non-zero status (the message ends with its stderr's last
            2,000 characters),
            or it could not be started.
    """
    try:
        proc = subprocess.Popen(
            argv,
            cwd=cwd,
            env={**os.environ, **env} if env else None,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
    except OSError as exc:
        raise UserError(f"{what} could not start {argv[0]!r}: {exc}") from None
    try:
        out, err = proc.communicate()
    except BaseException:
        proc.kill()
        proc.wait()
        raise
    sys.stdout.write(out)
    sys.stderr.write(err)
    if proc.returncode != 0:
        tail = err.strip()[-_STDERR_TAIL:] or "(nothing on stderr)"
        raise UserError(f"{what} exited with status {proc.returncode}: {tail}")


def synthesise(
    *,
    prefix: str,
    name: str,
    inputs: Mapping[str, Any],
    returns: Any,
    body: Callable[[dict[str, Any]], Any],
    module: str,
    doc: str,
) -> Callable[..., Any]:
    """A function whose signature is the declared interface (keyword-only ``inputs``,
    ``returns``) and whose body is ``body(kwargs)``, defined in ``module`` (the caller's) under
    the qualname ``{prefix}_{name}``."""

    def run(**kwargs: Any) -> Any:
        return body(kwargs)

    params = [
        inspect.Parameter(n, inspect.Parameter.KEYWORD_ONLY, annotation=tp)
        for n, tp in inputs.items()
    ]
    run.__signature__ = inspect.Signature(params, return_annotation=returns)  # type: ignore[attr-defined]
    run.__annotations__ = {**inputs, "return": returns}
    run.__module__ = module
    run.__qualname__ = run.__name__ = f"{prefix}_{re.sub(r'[^A-Za-z0-9_]', '_', name)}"
    run.__doc__ = doc
    return run


def declare(
    task_type: str,
    config: msgspec.Struct,
    *,
    prefix: str,
    name: str,
    inputs: Mapping[str, Any],
    returns: Any,
    body: Callable[[dict[str, Any]], Any],
    module: str,
    doc: str,
    options: Mapping[str, Any],
) -> TaskDef[..., Any]:
    """The task of ``task_type`` with ``config`` (its spec's typed config) and the interface a
    :func:`synthesise` d function gives it, named ``name`` (in ``module`` unless qualified)."""
    fn = synthesise(
        prefix=prefix, name=name, inputs=inputs, returns=returns, body=body, module=module, doc=doc
    )
    task_name = name if "." in name else f"{module}.{name}"
    data = msgspec.json.decode(msgspec.json.encode(config))
    try:  # what the worker's runner will read back: a setting of another type fails there
        msgspec.convert(data, type(config))
    except msgspec.ValidationError as exc:
        raise DefinitionError(
            f"{task_type} task {name!r}: a setting is not of its type: {exc}"
        ) from None
    return task_of_type(task_type, data, name=task_name, **options)(fn)


def outputs_type(name: str, outputs: Mapping[str, Any]) -> Any:
    """The return annotation of declared outputs: none, the one type, or a NamedTuple of
    them (``{name}_outputs``)."""
    if not outputs:
        return None
    if len(outputs) == 1:
        return next(iter(outputs.values()))
    type_name = f"{re.sub(r'[^A-Za-z0-9_]', '_', name)}_outputs"
    return typing.NamedTuple(type_name, list(outputs.items()))  # type: ignore[misc]


def caller_module(depth: int = 2) -> str:
    """The ``__name__`` of the module that called the caller (where the task is declared)."""
    return str(sys._getframe(depth).f_globals.get("__name__", "__main__"))


def check_name(kind: str, name: str) -> None:
    """Raise :class:`DefinitionError` for an empty or non-text task name."""
    if not isinstance(name, str) or not name.strip():
        raise DefinitionError(f"{kind}: give the task a name (a non-empty str), not {name!r}")
