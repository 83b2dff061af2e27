"""flytekit's ``ShellTask`` (``flytekit.extras.tasks.shell``), mapped onto Airfoil's ``shell``
task type (:func:`airfoil.shell_task`).

``{inputs.NAME}`` and ``{outputs.NAME}`` are replaced as flytekit does: by the value's text (a
file's or directory's local path), not shell-quoted. Outputs are FlyteFile / FlyteDirectory
locations; one output is the task's value, several a tuple in order.
"""

from __future__ import annotations

import sys
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from airfoil.core.errors import DefinitionError
from airfoil.sdk._shell import shell_task

__all__ = ["OutputLocation", "ShellTask"]


@dataclass(frozen=True)
class OutputLocation:
    """An output of a shell task: the file or directory the script writes at ``location``."""

    var: str
    var_type: type
    location: str


def _returns(outputs: Mapping[str, Any]) -> Any:
    """flytekit's outputs: one type, or a plain tuple (``o0``, ``o1``...)."""
    if not outputs:
        return None
    types = tuple(outputs.values())
    return types[0] if len(types) == 1 else tuple.__class_getitem__(types)


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
            than FlyteFile / FlyteDirectory, a placeholder naming no input or output.
    """
    from airfoil.compat.flytekit._decorators import airfoil_options, finish_task
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
    kwargs, recorded = airfoil_options(options)
    made = shell_task(
        name,
        script,
        inputs=dict(inputs or {}),
        outputs={o.var: (o.var_type, o.location) for o in outs},
        shell=shell,
        quote=False,
        debug=debug,
        _returns=_returns,
        _module=sys._getframe(1).f_globals.get("__name__", "__main__"),
        **kwargs,
    )
    return finish_task(made, {**recorded, "debug": debug})
