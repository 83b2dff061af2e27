"""What local launches share, whoever builds the runtime: the spec to run for an entity, its
inputs checked and serialised, its outputs decoded, a failed execution raised.

The runtime itself (stores, codecs, executors) is built by an entry point -- the embedded
engine of :mod:`airfoil.local`, the CLI, the server -- and handed in as a
:class:`ValueStores`.
"""

from __future__ import annotations

from typing import Any, Protocol

from airfoil.core.blobs import BlobStore
from airfoil.core.errors import ExecutionFailedError
from airfoil.core.phases import ErrorKind, ExecutionPhase
from airfoil.core.records import ExecutionRecord, Value, WorkflowSpec
from airfoil.sdk._values import convert_values, decode_values
from airfoil.types import TypeEngine

__all__ = ["ValueStores", "convert_inputs", "decode_outputs", "raise_for_failure", "spec_of"]


class ValueStores(Protocol):
    """Where values are converted (the type engine) and offloaded (the blob store)."""

    @property
    def types(self) -> TypeEngine: ...

    @property
    def blobs(self) -> BlobStore: ...


def spec_of(entity: Any) -> WorkflowSpec:
    """The workflow spec to run for a workflow, or a one-node wrapper for a task."""
    from airfoil.sdk._workflow import single_task_workflow

    if hasattr(entity, "spec") and isinstance(entity.spec, WorkflowSpec):
        return entity.spec
    return single_task_workflow(entity)


def convert_inputs(entity: Any, given: dict[str, Any], runtime: ValueStores) -> dict[str, Value]:
    """Check launch inputs against the interface and serialise them.

    Raises:
        InvalidInputError: an unknown, missing or ill-typed input.
    """
    return convert_values(entity, given, runtime.types, runtime.blobs)


def decode_outputs(entity: Any, record: ExecutionRecord, runtime: ValueStores) -> Any:
    """The execution's outputs as the Python value(s) the entity's signature promises."""
    return decode_values(entity, record.outputs or {}, runtime.types, runtime.blobs)


def raise_for_failure(record: ExecutionRecord) -> None:
    """Raise :class:`ExecutionFailedError` if the execution did not succeed."""
    if record.phase == ExecutionPhase.SUCCEEDED.value:
        return
    err = record.error
    raise ExecutionFailedError(
        record.id,
        f"{err.type}: {err.message}" if err else record.phase,
        node_id=None,
        error_kind=err.kind if err else ErrorKind.SYSTEM,
        error_type=err.type if err else "",
        traceback=err.traceback if err else "",
    )
