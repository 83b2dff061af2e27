"""flytekit's intra-task checkpoint: bytes an attempt saves for the next attempt of the same node.

``flytekit.current_context().checkpoint`` (Airfoil's own, step-numbered checkpoints are
:class:`airfoil.sdk._checkpoint.Checkpoint`, ``af.current_context().checkpoint``)::

    cp = flytekit.current_context().checkpoint
    start = int(cp.read() or b"0")      # what an earlier attempt wrote, or None
    for i in range(start, n):
        ...                               # a failure here is retried (retries=)
        cp.write(str(i + 1).encode())     # the next attempt starts from here

The checkpoint is one blob per node of an execution (``checkpoints/EXECUTION/NODE/flytekit``,
beside the node's step-numbered checkpoints) in the run's blob store, so it survives a failed
attempt, a lost worker and a resumed execution; a new execution (or ``recover``'s new id)
starts without one.
"""

from __future__ import annotations

import os
import shutil
from typing import Any

from airfoil.core.errors import NotFoundError

__all__ = ["Checkpoint"]


class Checkpoint:
    """The checkpoint of one node (see the module docstring)."""

    def __init__(self, blobs: Any, execution_id: str, node_id: str) -> None:
        self._blobs = blobs
        self._key = f"checkpoints/{execution_id}/{node_id}/flytekit"

    def read(self) -> bytes | None:
        """What the last ``write`` of this node (in any attempt) saved, or None."""
        if self._blobs is None:
            return None
        try:
            data: bytes = self._blobs.get_bytes(self._blobs.uri(self._key))
        except NotFoundError:
            return None
        return data

    def write(self, data: bytes) -> None:
        """Save ``data`` (replacing what was saved) for this and later attempts."""
        if not isinstance(data, bytes | bytearray):
            raise TypeError(f"a checkpoint holds bytes, not {type(data).__name__}")
        if self._blobs is None:
            raise RuntimeError("checkpoints need a running task (its run's blob store)")
        self._blobs.put_bytes(self._key, bytes(data))

    def prev_exists(self) -> bool:
        """Whether an earlier write exists."""
        return self.read() is not None

    def save(self, path: str | os.PathLike[str]) -> None:
        """Save a file's bytes as the checkpoint."""
        with open(path, "rb") as f:
            self.write(f.read())

    def restore(self, path: str | os.PathLike[str]) -> str | None:
        """Write the saved bytes to the file ``path`` (a directory gets a file ``_checkpoint``
        in it); returns the file's path, or None when nothing was saved."""
        data = self.read()
        if data is None:
            return None
        target = os.fspath(path)
        if os.path.isdir(target):
            target = os.path.join(target, "_checkpoint")
        tmp = target + ".tmp"
        with open(tmp, "wb") as f:
            f.write(data)
        shutil.move(tmp, target)
        return target
