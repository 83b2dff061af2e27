"""The type engine: Python types <-> :class:`~airfoil.core.records.TypeSpec`, Python values
<-> :class:`~airfoil.core.records.Value`.

A :class:`TypeEngine` holds an ordered chain of small :class:`Converter` objects; each says
"not mine" or returns a :class:`Handler` for an annotation. A converter for a user's own class
is added to the process's engine with :func:`add_converter` (it then reaches ``@task``
interfaces, workers, the server and the client: see ``docs/engine.md``), or to one engine
value with :meth:`TypeEngine.with_converter`; nothing is registered at import, and pandas, polars,
pyarrow, numpy and pydantic are only used once the user's code has imported them.

Example::

    from airfoil.types import ValueContext, default_type_engine

    engine = default_type_engine()
    ctx = ValueContext(blobs)
    value = engine.to_value({"a": [1, 2]}, dict[str, list[int]], ctx)
    assert engine.to_python(value, dict[str, list[int]], ctx) == {"a": [1, 2]}
"""

from airfoil.types._base import (
    DEFAULT_OFFLOAD_THRESHOLD,
    BlobHandler,
    ConversionError,
    Converter,
    Handler,
    PickleFallbackWarning,
    ValueContext,
    read_bytes,
    write_bytes_value,
    write_file_value,
)
from airfoil.types._binding import InputBinder
from airfoil.types._engine import TypeEngine, default_converters
from airfoil.types._files import Directory, File

# ``_plugins``' function itself, not ``_engine``'s forwarder (which imports on every call):
# the runtime asks for the engine on every attempt.
from airfoil.types._plugins import (
    add_converter,
    added_converters,
    default_type_engine,
    load_converters,
)
from airfoil.types._refs import ValueRef, ValueRefError

__all__ = [
    "DEFAULT_OFFLOAD_THRESHOLD",
    "BlobHandler",
    "ConversionError",
    "Converter",
    "Directory",
    "File",
    "Handler",
    "InputBinder",
    "PickleFallbackWarning",
    "TypeEngine",
    "ValueContext",
    "ValueRef",
    "ValueRefError",
    "add_converter",
    "added_converters",
    "default_converters",
    "default_type_engine",
    "load_converters",
    "read_bytes",
    "write_bytes_value",
    "write_file_value",
]
