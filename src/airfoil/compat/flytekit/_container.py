"""flytekit's ``ContainerTask``: a command with typed inputs and outputs, which records its
image and runs locally.

Airfoil runs no containers: the command runs as a local process (its image is recorded in the
task's config, part of its version, and in ``flyte_options``; install what it needs where the
tasks run). As in flytekit, ``{{.inputs.NAME}}`` in the command and arguments is replaced by
the input's value (a file's or directory's local path), each input is also written to
``input_data_dir/NAME``, and each output is read from ``output_data_dir/NAME``: a file or
directory as it is, any other type parsed from the file's text. The two data directories are
mapped onto temporary directories of the attempt (an argument naming ``/var/outputs`` gets the
local one), so the command writes where the task reads.
"""

from __future__ import annotations

import inspect
import os
import re
import shutil
import subprocess
import sys
import tempfile
import typing
from typing import Any

from airfoil.core.errors import DefinitionError, UserError

__all__ = ["ContainerTask"]

_INPUT = re.compile(r"\{\{\s*\.inputs\.([A-Za-z_][A-Za-z0-9_]*)\s*\}\}")


def _text(value: Any) -> str:
    return str(getattr(value, "path", value))


def _write_input(directory: str, name: str, value: Any) -> None:
    path = getattr(value, "path", None)
    target = os.path.join(directory, name)
    if path is not None and os.path.isdir(path):
        shutil.copytree(path, target)
    elif path is not None:
        shutil.copyfile(path, target)
    else:
        with open(target, "w") as f:
            f.write(str(value))


def _read_output(directory: str, name: str, tp: Any, task: str) -> Any:
    from airfoil.types import Directory, File

    path = os.path.join(directory, name)
    if not os.path.exists(path):
        raise UserError(
            f"container task {task!r}: the command wrote no output {name!r} "
            f"(expected {path}, under output_data_dir)"
        )
    if isinstance(tp, type) and issubclass(tp, File | Directory):
        return tp(path)
    with open(path) as f:
        text = f.read().strip()
    try:
        if tp is bool:
            return text.lower() in ("1", "true", "yes")
        return tp(text)
    except (TypeError, ValueError) as exc:
        raise UserError(f"container task {task!r}: output {name!r} {text!r}: {exc}") from None


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
    from airfoil.compat.flytekit._decorators import task

    if not command:
        raise DefinitionError(f"ContainerTask {name!r}: give the command to run")
    argv = [*command, *(arguments or [])]
    input_types = dict(inputs or {})
    output_types = dict(outputs or {})
    for arg in argv:
        for m in _INPUT.finditer(arg):
            if m.group(1) not in input_types:
                raise DefinitionError(
                    f"ContainerTask {name!r}: {m.group(0)} names no input "
                    f"(its inputs: {', '.join(input_types) or 'none'})"
                )
    env = dict(environment or {})

    def run_command(**kwargs: Any) -> Any:
        work = tempfile.mkdtemp(prefix="airfoil-container-")
        try:
            in_dir, out_dir = os.path.join(work, "inputs"), os.path.join(work, "outputs")
            os.makedirs(in_dir)
            os.makedirs(out_dir)
            for key, value in kwargs.items():
                _write_input(in_dir, key, value)
            rendered = []
            for arg in argv:
                arg = _INPUT.sub(lambda m: _text(kwargs[m.group(1)]), arg)
                for where, local in ((output_data_dir, out_dir), (input_data_dir, in_dir)):
                    if where and arg.startswith(where):
                        arg = local + arg[len(where) :]
                rendered.append(arg)
            proc = subprocess.run(
                rendered,
                capture_output=True,
                text=True,
                check=False,
                env={**os.environ, **env},
                cwd=work,
            )
            sys.stdout.write(proc.stdout)
            if proc.returncode != 0:
                raise UserError(
                    f"container task {name!r} exited with status {proc.returncode}: "
                    f"{proc.stderr.strip()[-2000:]}"
                )
            values = {n: _read_output(out_dir, n, tp, name) for n, tp in output_types.items()}
            if not values:
                return None
            return result_type(**_keep(values, work))
        finally:
            shutil.rmtree(work, ignore_errors=True)

    def _keep(values: dict[str, Any], work: str) -> dict[str, Any]:
        """Files and directories leave the work directory before it is removed."""
        kept = tempfile.mkdtemp(prefix="airfoil-container-out-")
        out = {}
        for n, v in values.items():
            path = getattr(v, "path", None)
            if path is not None and path.startswith(work):
                target = os.path.join(kept, n)
                (shutil.copytree if os.path.isdir(path) else shutil.copyfile)(path, target)
                v = type(v)(target)
            out[n] = v
        return out

    result_type: Any = None
    if output_types:
        type_name = f"{re.sub(r'[^A-Za-z0-9_]', '_', name)}_outputs"
        fields = list(output_types.items())
        result_type = typing.NamedTuple(type_name, fields)  # type: ignore[misc, no-redef]
    params = [
        inspect.Parameter(n, inspect.Parameter.KEYWORD_ONLY, annotation=tp)
        for n, tp in input_types.items()
    ]
    run_command.__signature__ = inspect.Signature(params, return_annotation=result_type)  # type: ignore[attr-defined]
    run_command.__annotations__ = {**input_types, "return": result_type}
    run_command.__module__ = sys._getframe(1).f_globals.get("__name__", "__main__")
    qual = f"container_{re.sub(r'[^A-Za-z0-9_]', '_', name)}"
    run_command.__qualname__ = run_command.__name__ = qual
    run_command.__doc__ = f"Container task {name} (image {image}), run locally."
    made = task(environment=env or None, **options)(run_command)
    made._options["config"] = {"image": image, "command": argv}  # part of the version
    made.name = name if "." in name else f"{made.module}.{name}"
    vars(made)["flyte_options"] = {
        **vars(made).get("flyte_options", {}),
        "container_image": image,
        "metadata_format": str(metadata_format) if metadata_format is not None else None,
        "io_strategy": str(io_strategy) if io_strategy is not None else None,
    }
    return made
