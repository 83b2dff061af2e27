"""A workflow's inputs on the command line: ``--name value`` parsed against its typed
interface, and the ``airfoil run FILE NAME --help`` page that lists them.

Everything after ``FILE NAME`` belongs to the workflow (as with ``pyflyte run``), so an input
may be called ``name``, ``json`` or ``remote``; the command's own options go before ``FILE``.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import TYPE_CHECKING, Any

from airfoil.core.errors import ConfigError

if TYPE_CHECKING:
    from airfoil.types import TypeEngine

__all__ = ["input_help", "parse_inputs", "wants_help"]

_TRUTHY = ("true", "false", "1", "0", "yes", "no")


def _flag(name: str) -> str:
    return "--" + name.replace("_", "-")


def _negated(flag: str) -> str:
    return "--no-" + flag[2:]


def wants_help(entity: Any, args: list[str]) -> bool:
    """Whether ``args`` ask for the inputs page (``--help`` / ``-h``, unless an input is
    called ``help``)."""
    if "help" in entity.py_interface.input_types:
        return "-h" in args
    return "--help" in args or "-h" in args


def parse_inputs(
    entity: Any, args: list[str], engine: TypeEngine, options: Collection[str] = ()
) -> dict[str, Any]:
    """Turn ``["--n", "10", "--flag", "--name=x"]`` into typed Python values.

    Booleans may be given as ``--flag`` / ``--no-flag`` or ``--flag true``.

    Args:
        entity: the task, workflow or launch plan.
        args: what followed ``FILE NAME`` on the command line.
        engine: the type engine that parses each value.
        options: the command's own options (``--json``...), named in the error when one is
            given where an input was expected.

    Raises:
        ConfigError: an unknown input or a missing value (the command line's syntax).
        InvalidInputError: a value that does not parse as its input's type (worded as every
            launch path words it: :class:`~airfoil.types.InputBinder`).
    """
    from airfoil.types import InputBinder

    types = entity.py_interface.input_types
    specs = {p.name: p.type for p in entity.py_interface.interface.inputs}
    known = ", ".join(_flag(n) for n in types) or "none"
    out: dict[str, str | bool] = {}
    flag_before = ""  # a boolean input just given as a bare flag
    i = 0
    while i < len(args):
        arg = args[i]
        if not arg.startswith("--") or arg == "--":
            if flag_before:  # --dry-run maybe: the value was taken for another argument
                raise ConfigError(
                    f"input {flag_before} is a bool: {arg!r} is not one of "
                    f"{', '.join(_TRUTHY)}; write {flag_before}, {_negated(flag_before)} or "
                    f"{flag_before} false"
                )
            raise ConfigError(f"unexpected argument {arg!r}: inputs are given as --name value")
        flag_before = ""
        key, eq, inline = arg[2:].partition("=")
        name = key.replace("-", "_")
        negated = False
        if name not in types and name.startswith("no_") and name[3:] in types:
            name, negated = name[3:], True
        if name not in types:
            flag = arg.split("=")[0]
            hint = ""
            if flag in options:
                hint = (
                    f"; {flag} is an option of the command: give it before the file "
                    f"(options before FILE NAME are Airfoil's, everything after is the inputs')"
                )
            raise ConfigError(f"{entity.name} has no input {flag!r} (inputs: {known}){hint}")
        if name in out:  # a second --lr would silently win over the first
            raise ConfigError(
                f"input {_flag(name)} is given twice: give it once (a list input takes one "
                "JSON value, e.g. --xs '[1, 2]')"
            )
        spec = specs[name]
        if (
            spec.kind == "bool"
            and not eq
            and (i + 1 >= len(args) or args[i + 1].lower() not in _TRUTHY)
        ):
            out[name] = not negated
            flag_before = _flag(name)
            i += 1
            continue
        if eq:
            text = inline
            i += 1
        else:
            if i + 1 >= len(args):
                raise ConfigError(f"input --{key} needs a value ({spec})")
            text = args[i + 1]
            i += 2
        out[name] = text
    iface = entity.py_interface.interface
    return InputBinder(entity.name, iface, engine, py_types=types).from_text(out)


def input_help(entity: Any, engine: TypeEngine, file: str) -> str:
    """The inputs page: usage, the entity's docs, then each input's flag, type, default and
    description (plain text, never markup)."""
    iface = entity.py_interface
    spec = getattr(entity, "spec", None)
    from airfoil.sdk._interface import parse_docstring

    docs = parse_docstring(getattr(spec, "docs", "") or "")[0].strip()
    kind = type(spec).__name__.replace("Spec", "").lower() if spec is not None else "entity"
    lines = [f"Usage: airfoil run [OPTIONS] {file} {entity.name.rsplit('.', 1)[-1]} [INPUTS]", ""]
    lines.append(f"{kind} {entity.name}" + (f": {docs.splitlines()[0]}" if docs else ""))
    rest = "\n".join(docs.splitlines()[1:]).strip()
    if rest:
        lines += ["", *("  " + line for line in rest.splitlines())]
    lines += ["", "Inputs:"]
    params = iface.interface.inputs
    defaults, fixed = dict(iface.defaults), {}
    from airfoil.sdk._launch_plan import LaunchPlan

    if isinstance(entity, LaunchPlan):  # the plan's presets, not only the workflow's defaults
        defaults.update(entity.default_inputs)
        fixed = entity.fixed_inputs
    if not params:
        lines.append("  (none)")
    rows: list[tuple[str, str, str]] = []
    for p in params:
        flag = _flag(p.name)
        if p.type.kind == "bool":
            flag = f"{flag} / --no-{p.name.replace('_', '-')}"
        typ = str(p.type)
        try:
            form = engine.handler(iface.input_types[p.name]).cli_form()
        except Exception:  # a type the engine cannot describe still gets its line
            form = ""
        if p.name in fixed:
            extra = f"fixed: {_show_default(fixed[p.name])}; the plan sets it, a launch cannot"
        elif p.name in defaults:
            extra = f"default: {_show_default(defaults[p.name])}"
        else:
            extra = "required"
        detail = p.description.strip()
        if form and p.type.kind not in ("int", "float", "str", "bool"):
            detail = f"{detail} ({form})" if detail else form
        rows.append((flag, f"{typ}  [{extra}]", detail))
    width = max((len(r[0]) for r in rows), default=0)
    for flag, typ, detail in rows:
        lines.append(f"  {flag.ljust(width)}  {typ}")
        if detail:
            lines.append(f"  {' ' * width}  {detail}")
    lines += [
        "",
        "Options of airfoil run (--json, --name, --executor, --remote, --server) go before "
        "the file: `airfoil run --help`.",
    ]
    return "\n".join(lines)


def _show_default(value: Any) -> str:
    import enum

    if isinstance(value, enum.Enum):
        return value.name
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."
