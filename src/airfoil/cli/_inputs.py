"""Parsing ``--name value`` inputs from the command line against a typed interface."""

from __future__ import annotations

from typing import Any

from airfoil.core.errors import ConfigError, TypeTransformError

__all__ = ["parse_inputs"]


def parse_inputs(entity: Any, args: list[str], engine: Any) -> dict[str, Any]:
    """Turn ``["--n", "10", "--flag", "--name=x"]`` into typed Python values.

    Booleans may be given as ``--flag`` / ``--no-flag`` or ``--flag true``.

    Raises:
        ConfigError: an unknown input, a missing value, or a value of the wrong form.
    """
    types = entity.py_interface.input_types
    specs = {p.name: p.type for p in entity.py_interface.interface.inputs}
    known = ", ".join(f"--{n.replace('_', '-')}" for n in types) or "none"
    out: dict[str, Any] = {}
    i = 0
    while i < len(args):
        arg = args[i]
        if not arg.startswith("--") or arg == "--":
            raise ConfigError(f"unexpected argument {arg!r}: inputs are given as --name value")
        key, eq, inline = arg[2:].partition("=")
        name = key.replace("-", "_")
        negated = False
        if name not in types and name.startswith("no_") and name[3:] in types:
            name, negated = name[3:], True
        if name not in types:
            raise ConfigError(f"{entity.name} has no input {arg.split('=')[0]!r}; inputs: {known}")
        spec = specs[name]
        if (
            spec.kind == "bool"
            and not eq
            and (
                i + 1 >= len(args)
                or args[i + 1].lower() not in ("true", "false", "1", "0", "yes", "no")
            )
        ):
            out[name] = not negated
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
        try:
            out[name] = engine.parse_cli(text, types[name])
        except TypeTransformError as exc:
            raise ConfigError(f"input --{key} expects {spec}: {exc}") from None
    return out
