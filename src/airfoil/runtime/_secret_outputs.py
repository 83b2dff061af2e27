"""A task's outputs never carry the value of a secret it was given.

Outputs are kept in the store (inline in the database, or as blobs) and shown to anyone who may
read the execution, and unlike a log line an output cannot be scrubbed without changing the
data. So an attempt whose output holds a secret's value -- as it is, or escaped as ``repr`` and
JSON write it -- fails with a :class:`~airfoil.core.errors.SecretOutputError` naming the output
and the secret (never the value), and the blob that output was written to is deleted.

What is looked at: every inline value, and offloaded blobs up to :data:`SCAN_LIMIT` bytes, as
their bytes are stored. Values longer than that, and formats that compress or encode their
content (Parquet, ``.npy``, pickles of non-strings), are not scanned. Secret values shorter than
:data:`MIN_SECRET_LEN` characters are not looked for (they would match ordinary data).
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Mapping

from airfoil.core.blobs import BlobStore
from airfoil.core.errors import AirfoilError, SecretOutputError
from airfoil.core.records import Value

__all__ = ["MIN_SECRET_LEN", "SCAN_LIMIT", "refuse_secret_outputs"]

#: Largest offloaded output blob scanned for secret values, in bytes.
SCAN_LIMIT = 16 * 2**20
#: Shortest secret value looked for in outputs.
MIN_SECRET_LEN = 4


def _forms(value: str) -> set[bytes]:
    forms = {value, repr(value)[1:-1], json.dumps(value)[1:-1]}
    return {f.encode("utf-8") for f in forms if f}


def _stored_bytes(value: Value, blobs: BlobStore) -> bytes:
    if value.inline is not None:
        return value.inline
    if not value.uri or value.format == "directory" or value.size > SCAN_LIMIT:
        return b""
    try:
        return blobs.get_bytes(value.uri)
    except (AirfoilError, OSError):
        return b""


def refuse_secret_outputs(
    outputs: Mapping[str, Value], secrets: Mapping[str, str], blobs: BlobStore, task: str
) -> None:
    """Raise if an output holds the value of one of ``secrets`` (name -> value); that
    output's blob is deleted first.

    Raises:
        SecretOutputError: naming the output and the secret.
    """
    wanted = {
        name: _forms(value) for name, value in secrets.items() if len(value) >= MIN_SECRET_LEN
    }
    if not wanted:
        return
    for output, value in sorted(outputs.items()):
        data = _stored_bytes(value, blobs)
        if not data:
            continue
        for secret, forms in sorted(wanted.items()):
            if any(form in data for form in forms):
                if value.uri:  # content-addressed: any value sharing it holds the secret too
                    with contextlib.suppress(AirfoilError, OSError):
                        blobs.delete(value.uri)
                raise SecretOutputError(
                    f"output {output!r} of task {task} holds the value of secret {secret!r}: "
                    "outputs are stored and shown to whoever may read the execution, so a "
                    "secret is never kept as one. Return something derived from it (a hash, "
                    "a masked form), or ask for the secret by name in the task that needs it"
                )
