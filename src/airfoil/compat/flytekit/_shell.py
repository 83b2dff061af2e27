"""flytekit's ``ShellTask`` (``flytekit.extras.tasks.shell``): a shell script with typed inputs
and declared output locations, run as an Airfoil task.

``{inputs.NAME}`` in the script (and in an output's location) is replaced by the input's value
(a file's or directory's local path); ``{outputs.NAME}`` by the output's location. The script
runs with ``shell -c`` (``/bin/sh`` by default, ``set -e`` semantics are the script's own); a
non-zero exit fails the attempt with the script's standard error. The script text is part of
the task's version, so changing it invalidates cached results.
"""

from __future__ import annotations

import inspect
import os
import re
import subprocess
import sys
from dataclasses import dataclass
from typing import Any

from airfoil.core.errors import DefinitionError, UserError

__all__ = ["OutputLocation", "ShellTask"]

_PLACEHOLDER = re.compile(r"\{(inputs|outputs)\.([A-Za-z_][A-Za-z0-9_]*)\}")


@dataclass(frozen=True)
class OutputLocation:
    """An output of a shell task: the file or directory the script writes at ``location``."""

    var: str
    var_type: type
    location: str


def _render(template: str, inputs: dict[str, Any], outputs: dict[str, str], what: str) -> str:
    def sub(m: re.Match[str]) -> str:
        kind, name = m.group(1), m.group(2)
        values: dict[str, Any] = inputs if kind == "inputs" else outputs
        if name not in values:
            raise UserError(
                f"{what} names {{{kind}.{name}}} but the task has no {kind[:-1]} {name!r} "
                f"(its {kind}: {', '.join(values) or 'none'})"
            )
        value = values[name]
        return str(getattr(value, "path", value))

    return _PLACEHOLDER.sub(sub, template)


def ShellTask(
    name: str,
    debug: bool = False,
    script: str | None = None,
    script_file: str | None = None,
    task_config: Any = None,
    shell: str = "/bin/sh",
    inputs: dict[str, type] | None = None,
    output_locs: list[OutputLocation] | None = None,
    **options: Any,
) -> Any:
    """A task that runs a shell script (flytekit's ``ShellTask``).

    Args:
        name: the task's name.
        script: the script (or ``script_file``, a path read now).
        shell: the shell that runs it.
        inputs: the typed inputs (``kwtypes(x=FlyteFile, n=int)``).
        output_locs: the outputs: each an :class:`OutputLocation` of a FlyteFile or
            FlyteDirectory. One output is the task's value; several are a tuple in order.
        options: the options of :func:`~airfoil.compat.flytekit.task` (``retries``,
            ``requests``, ``cache``...).

    Raises:
        DefinitionError: neither or both of script / script_file, an output of another type
            than FlyteFile / FlyteDirectory.
    """
    from airfoil.compat.flytekit._decorators import task
    from airfoil.compat.flytekit._types import FlyteDirectory, FlyteFile

    if (script is None) == (script_file is None):
        raise DefinitionError(f"ShellTask {name!r}: give script= or script_file= (one of them)")
    if script_file is not None:
        with open(script_file) as f:
            script = f.read()
    assert script is not None
    outs = list(output_locs or [])
    for o in outs:
        if o.var_type not in (FlyteFile, FlyteDirectory):
            raise DefinitionError(
                f"ShellTask {name!r}: output {o.var!r} is a {o.var_type!r}; shell task outputs "
                "are FlyteFile or FlyteDirectory locations"
            )
    input_types = dict(inputs or {})
    text: str = script

    def run_script(**kwargs: Any) -> Any:
        locations = {o.var: _render(o.location, kwargs, {}, f"output {o.var!r}") for o in outs}
        rendered = _render(text, kwargs, locations, f"the script of {name!r}")
        if debug:  # as flytekit: the script as run, in the attempt's log
            print(f"{'=' * 46}\n{rendered}\n{'=' * 46}")
        proc = subprocess.run([shell, "-c", rendered], capture_output=True, text=True, check=False)
        sys.stdout.write(proc.stdout)
        if proc.returncode != 0:
            raise UserError(
                f"shell task {name!r} exited with status {proc.returncode}: "
                f"{proc.stderr.strip()[-2000:]}"
            )
        values = [o.var_type(os.path.abspath(locations[o.var])) for o in outs]
        if not values:
            return None
        return values[0] if len(values) == 1 else tuple(values)

    ret: Any = None
    if len(outs) == 1:
        ret = outs[0].var_type
    elif outs:
        ret = tuple.__class_getitem__(tuple(o.var_type for o in outs))
    params = [
        inspect.Parameter(n, inspect.Parameter.KEYWORD_ONLY, annotation=tp)
        for n, tp in input_types.items()
    ]
    run_script.__signature__ = inspect.Signature(params, return_annotation=ret)  # type: ignore[attr-defined]
    run_script.__annotations__ = {**input_types, "return": ret}
    caller = sys._getframe(1).f_globals.get("__name__", "__main__")
    run_script.__module__ = caller
    run_script.__qualname__ = run_script.__name__ = f"shell_{re.sub(r'[^A-Za-z0-9_]', '_', name)}"
    run_script.__doc__ = f"Shell task {name}."
    made = task(**options)(run_script)
    made._options["config"] = {"shell": shell, "script": text}  # part of the version
    made.name = name if "." in name else f"{made.module}.{name}"
    vars(made)["flyte_options"] = {**vars(made).get("flyte_options", {}), "debug": debug}
    return made
