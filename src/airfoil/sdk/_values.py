"""Python values <-> stored values for an entity's interface: launch inputs, the inputs of
tasks called by running tasks, and stored outputs decoded back into what the signature promises.

Used by the engine (launches) and by the runtime (child calls inside a worker).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from airfoil.core.blobs import BlobStore
from airfoil.core.errors import InvalidInputError
from airfoil.core.errors import TypeTransformError as _TTE
from airfoil.core.records import Value
from airfoil.sdk._interface import pack_outputs

if TYPE_CHECKING:
    from airfoil.types import TypeEngine

__all__ = ["convert_values", "decode_values"]


def convert_values(
    entity: Any, given: dict[str, Any], types: TypeEngine, blobs: BlobStore
) -> dict[str, Value]:
    """Check Python values against ``entity``'s inputs and serialise them (defaults filled in).

    Raises:
        InvalidInputError: an unknown, missing or ill-typed input.
    """
    from airfoil.types import ValueContext

    py = entity.py_interface
    iface = py.interface
    unknown = sorted(set(given) - set(py.input_types))
    if unknown:
        raise InvalidInputError(
            f"{entity.name} has no input(s) {', '.join(map(repr, unknown))}; its inputs: "
            f"{', '.join(py.input_types) or 'none'}"
        )
    ctx = ValueContext(blobs=blobs)
    values: dict[str, Value] = {}
    for p in iface.inputs:
        if p.name in given:
            try:
                types.check_value(given[p.name], py.input_types[p.name])
                values[p.name] = types.to_value(given[p.name], py.input_types[p.name], ctx)
            except _TTE as exc:
                raise InvalidInputError(
                    f"input {p.name!r} of {entity.name} expects {p.type}: {exc}"
                ) from None
        elif p.has_default and p.default is not None:
            values[p.name] = p.default
        elif p.has_default:
            values[p.name] = types.to_value(None, py.input_types[p.name], ctx)
        else:
            raise InvalidInputError(
                f"{entity.name} needs input {p.name!r} ({p.type}) but it was not given"
            )
    return values


def decode_values(
    entity: Any, outputs: dict[str, Value], types: TypeEngine, blobs: BlobStore
) -> Any:
    """Stored outputs as the Python value(s) an entity's signature promises."""
    from airfoil.types import ValueContext

    py = entity.py_interface
    ctx = ValueContext(blobs=blobs)
    if py.interface.output_style == "none":
        return None
    decoded = {
        name: types.to_python(outputs[name], tp, ctx) for name, tp in py.output_types.items()
    }
    return pack_outputs(py, decoded)
