"""``af.container_task``: a command with typed inputs and outputs that records its container
image and runs locally.

The task type ``container``: the worker's runner reads the image, the command and the data
directories from the spec's config (:class:`ContainerConfig`, all part of the task's version:
a new image tag is a new version). Airfoil pulls and runs no image: the command runs as a local
process, so install what it needs where the tasks run. ``{inputs.NAME}`` in the command is
replaced by the input's value (a file's or directory's local path); each input is also written
to ``input_data_dir/NAME``, and each output is read from ``output_data_dir/NAME`` (a file or
directory as it is, a ``str`` / ``int`` / ``float`` / ``bool`` from the file's text). The two
data directories are container paths mapped onto fresh directories of the attempt: where one
appears in an argument (as a whole path component) the local directory is put, and the command
also finds them in
``AIRFOIL_INPUT_DIR`` / ``AIRFOIL_OUTPUT_DIR``.
"""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Callable, Mapping
from typing import Any

import msgspec

from airfoil.core.errors import ConfigError, DefinitionError, UserError
from airfoil.sdk._command_tasks import (
    PLACEHOLDER,
    caller_module,
    check_name,
    check_placeholders,
    declare,
    outputs_type,
    parse_scalar,
    run_command,
    work_directory,
)
from airfoil.sdk._shell import as_text, output_kind
from airfoil.sdk._task import TaskDef
from airfoil.types import Directory, File

__all__ = ["CONTAINER_TYPE", "ContainerConfig", "container_task", "run_container"]

#: The task type name of container tasks.
CONTAINER_TYPE = "container"


class ContainerConfig(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """A container task's settings (``TaskSpec.config``).

    Attributes:
        image: the container image (recorded; the command runs locally).
        command: the command and its arguments, with ``{inputs.NAME}`` placeholders.
        input_data_dir / output_data_dir: the container paths of the data directories.
        outputs: ``(name, kind)`` of each output, in order.
    """

    image: str
    command: tuple[str, ...]
    input_data_dir: str = "/var/inputs"
    output_data_dir: str = "/var/outputs"
    outputs: tuple[tuple[str, str], ...] = ()

    @staticmethod
    def decode(data: Mapping[str, Any]) -> ContainerConfig:
        """The config of a spec.

        Raises:
            ConfigError: the data is not a container task's config.
        """
        try:
            return msgspec.convert(dict(data), ContainerConfig)
        except msgspec.ValidationError as exc:
            raise ConfigError(f"invalid container task config: {exc}") from None


def _write_input(directory: str, name: str, value: Any) -> None:
    target = os.path.join(directory, name)
    if isinstance(value, Directory):
        shutil.copytree(value.path, target)
    elif isinstance(value, File):
        shutil.copyfile(value.path, target)
    else:
        with open(target, "w") as f:
            f.write(as_text(value))


def _local(arg: str, config: ContainerConfig, in_dir: str, out_dir: str) -> str:
    """``arg`` with the container's data directories (wherever they occur in it, as a whole
    path component: ``/var/outputs/x``, ``open('/var/outputs/x')``) made the local ones."""
    for where, local in ((config.output_data_dir, out_dir), (config.input_data_dir, in_dir)):
        where = where.rstrip("/")
        if where:
            pattern = re.escape(where) + r"(?![A-Za-z0-9_.-])"
            arg = re.sub(pattern, lambda _m, local=local: local, arg)  # type: ignore[misc]
    return arg


def run_container(
    task_name: str, config: ContainerConfig, kwargs: Mapping[str, Any], out_types: list[Any]
) -> Any:
    """Run a container task's command locally with these inputs; its outputs (none, the one
    value, or a tuple in declared order).

    Raises:
        UserError: the command failed, could not start, or wrote no declared output.
    """
    what = f"container task {task_name!r} (image {config.image})"
    work = work_directory("container-")
    in_dir, out_dir = os.path.join(work, "inputs"), os.path.join(work, "outputs")
    os.makedirs(in_dir)
    os.makedirs(out_dir)
    for key, value in kwargs.items():
        _write_input(in_dir, key, value)
    argv = [
        _local(PLACEHOLDER.sub(lambda m: as_text(kwargs[m.group(2)]), arg), config, in_dir, out_dir)
        for arg in config.command
    ]
    env = {"AIRFOIL_INPUT_DIR": in_dir, "AIRFOIL_OUTPUT_DIR": out_dir}
    run_command(argv, cwd=work, env=env, what=what)
    values: list[Any] = []
    for (name, kind), tp in zip(config.outputs, out_types, strict=True):
        path = os.path.join(out_dir, name)
        if not os.path.exists(path):
            raise UserError(
                f"{what}: the command wrote no output {name!r} (expected "
                f"{config.output_data_dir.rstrip('/')}/{name}, under output_data_dir)"
            )
        if kind in ("file", "directory"):
            values.append(tp(path))
        else:
            with open(path) as f:
                values.append(parse_scalar(f.read(), kind, f"{what} output {name!r}"))
    if not values:
        return None
    return values[0] if len(values) == 1 else tuple(values)


def container_task(
    name: str,
    image: str,
    command: list[str],
    *,
    inputs: Mapping[str, Any] | None = None,
    outputs: Mapping[str, Any] | None = None,
    input_data_dir: str = "/var/inputs",
    output_data_dir: str = "/var/outputs",
    _returns: Callable[[Mapping[str, Any]], Any] | None = None,
    _module: str | None = None,
    **options: Any,
) -> TaskDef[..., Any]:
    """Declare a task that runs a command, recording the container image it is meant for.

    The command runs as a local process (see the module docstring); the image is recorded in
    the task's config and version.

    Example:
        >>> area = af.container_task(
        ...     "area",
        ...     image="python:3.12-slim",
        ...     command=["python", "-c", "print({inputs.r} ** 2 * 3.14159)"],
        ...     inputs={"r": float},
        ... )

    Args:
        name: the task's name (within its module).
        image: the container image.
        command: the command and its arguments (``{inputs.NAME}`` is replaced).
        inputs / outputs: the typed inputs and outputs, by name (outputs: ``File``,
            ``Directory``, ``str``, ``int``, ``float``, ``bool``; one is the task's value,
            several a named tuple).
        input_data_dir / output_data_dir: the container paths the command reads its inputs
            from / writes its outputs to.
        options: the options of :func:`airfoil.task`.

    Raises:
        DefinitionError: an empty command or image, a placeholder naming no input, an output
            type a command cannot produce.
    """
    kind = "container task"
    check_name(kind, name)
    if not isinstance(image, str) or not image.strip():
        raise DefinitionError(f"{kind} {name!r}: give the container image (image='repo:tag')")
    if isinstance(command, str) or not command or not all(isinstance(a, str) for a in command):
        raise DefinitionError(f"{kind} {name!r}: give the command to run, a list of str")
    input_types = dict(inputs or {})
    output_types = dict(outputs or {})
    outs: list[tuple[str, str]] = []
    for out_name, tp in output_types.items():
        found = output_kind(tp)
        if found is None:
            raise DefinitionError(
                f"{kind} {name!r}: output {out_name!r} is a {tp!r}; a command's outputs are "
                "File, Directory, str, int, float or bool (read from output_data_dir)"
            )
        outs.append((out_name, found))
    for arg in command:
        check_placeholders(kind, name, arg, f"the command's argument {arg!r}", input_types, None)
    config = ContainerConfig(
        image=image,
        command=tuple(command),
        input_data_dir=input_data_dir,
        output_data_dir=output_data_dir,
        outputs=tuple(outs),
    )
    returns = (_returns or (lambda d: outputs_type(name, d)))(output_types)
    out_types = list(output_types.values())
    module = _module or caller_module()

    def body(kwargs: dict[str, Any]) -> Any:
        return run_container(name, config, kwargs, out_types)

    return declare(
        CONTAINER_TYPE,
        config,
        prefix="container",
        name=name,
        inputs=input_types,
        returns=returns,
        body=body,
        module=module,
        doc=f"Container task {name} (image {image}), run locally.",
        options=options,
    )
