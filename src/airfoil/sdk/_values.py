"""Python values <-> stored values for an entity's interface: launch inputs, the inputs of
tasks called by running tasks, and stored outputs decoded back into what the signature promises.

Used by the engine (launches) and by the runtime (child calls inside a worker).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from airfoil.core.blobs import BlobStore
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
    from airfoil.types import InputBinder, ValueContext

    py = entity.py_interface
    binder = InputBinder(
        entity.name, py.interface, types, ValueContext(blobs=blobs), py.input_types
    )
    return binder.from_python(given)


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
