"""flytekit's ``ContainerTask``, mapped onto Airfoil's ``container`` task type
(:func:`airfoil.container_task`): a command with typed inputs and outputs, which records its
image and runs locally.

Airfoil runs no containers: the command runs as a local process (its image is recorded in the
task's config, part of its version, and in ``flyte_options``; install what it needs where the
tasks run). As in flytekit, ``{{.inputs.NAME}}`` in the command and arguments is replaced by
the input's value (a file's or directory's local path), each input is also written to
``input_data_dir/NAME``, and each output is read from ``output_data_dir/NAME``: a file or
directory as it is, any other type parsed from the file's text. The two data directories are
mapped onto directories of the attempt (an argument naming ``/var/outputs`` gets the local
one), so the command writes where the task reads.
"""

from __future__ import annotations

import re
import sys
import typing
from collections.abc import Mapping
from typing import Any

from airfoil.compat.flytekit._sqlite import flyte_placeholders
from airfoil.core.errors import DefinitionError
from airfoil.sdk._container import container_task

__all__ = ["ContainerTask"]

_INPUT = re.compile(r"\{\{\s*\.inputs\.([A-Za-z_][A-Za-z0-9_]*)\s*\}\}")


def _named_outputs(name: str) -> Any:
    """flytekit's outputs of a container task: a NamedTuple, even of one output."""

    def returns(outputs: Mapping[str, Any]) -> Any:
        if not outputs:
            return None
        type_name = f"{re.sub(r'[^A-Za-z0-9_]', '_', name)}_outputs"
        return typing.NamedTuple(type_name, list(outputs.items()))  # type: ignore[misc]

    return returns


def ContainerTask(
    name: str,
    image: str,
    command: list[str],
    inputs: dict[str, type] | None = None,
    outputs: dict[str, type] | None = None,
    input_data_dir: str | None = None,
    output_data_dir: str | None = None,
    arguments: list[str] | None = None,
    metadata_format: Any = None,
    io_strategy: Any = None,
    environment: dict[str, str] | None = None,
    **options: Any,
) -> Any:
    """A task that runs ``command`` (flytekit's ``ContainerTask``; see the module docstring).

    Args:
        name: the task's name.
        image: the container image (recorded).
        command / arguments: what runs, with ``{{.inputs.NAME}}`` placeholders.
        inputs / outputs: the typed inputs and outputs (``kwtypes(a=float)``).
        input_data_dir / output_data_dir: where the command reads inputs / writes outputs.
        options: the options of :func:`~airfoil.compat.flytekit.task`.

    Raises:
        DefinitionError: an empty command, or a placeholder naming no input.
    """
    from airfoil.compat.flytekit._decorators import airfoil_options, finish_task

    if not command:
        raise DefinitionError(f"ContainerTask {name!r}: give the command to run")
    argv = [*command, *(arguments or [])]
    input_types = dict(inputs or {})
    for arg in argv:
        for m in _INPUT.finditer(arg):
            if m.group(1) not in input_types:
                raise DefinitionError(
                    f"ContainerTask {name!r}: {m.group(0)} names no input "
                    f"(its inputs: {', '.join(input_types) or 'none'})"
                )
    kwargs, recorded = airfoil_options({**options, "environment": environment or None})
    made = container_task(
        name,
        image,
        [flyte_placeholders(a) for a in argv],
        inputs=input_types,
        outputs=dict(outputs or {}),
        input_data_dir=input_data_dir or "/var/inputs",
        output_data_dir=output_data_dir or "/var/outputs",
        _returns=_named_outputs(name),
        _module=sys._getframe(1).f_globals.get("__name__", "__main__"),
        **kwargs,
    )
    return finish_task(
        made,
        {
            **recorded,
            "container_image": image,
            "metadata_format": str(metadata_format) if metadata_format is not None else None,
            "io_strategy": str(io_strategy) if io_strategy is not None else None,
        },
    )
