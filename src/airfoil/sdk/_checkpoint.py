"""Checkpoints of a running task: ``af.current_context().checkpoint``.

A :class:`Checkpoint` saves state -- a Python object (pickled) or a local folder -- with a step
number in the blob store, under a prefix that belongs to the node (not the attempt), so a
restarted gang, a retried attempt or a resumed execution finds the latest one.

Invariants:

- A checkpoint is visible only once it is whole: its data is written first, then the small
  ``latest`` record naming it (one atomic blob write), so a rank killed mid-save leaves the
  previous checkpoint as the latest.
- Steps only move forward: saving a step lower than the latest is refused (a stale rank
  cannot roll the run back).
"""

from __future__ import annotations

import os
import pickle
import tempfile
from typing import Any

import msgspec

from airfoil.core.blobs import BlobStore
from airfoil.core.errors import ConfigError

__all__ = ["Checkpoint", "CheckpointInfo"]


class CheckpointInfo(msgspec.Struct, frozen=True):
    """The record of the latest checkpoint: its step, kind (``object`` or ``folder``) and
    where its data is."""

    step: int
    kind: str
    uri: str


class Checkpoint:
    """Save and load a task's checkpoints (one series per node of an execution).

    Args:
        blobs: the blob store.
        prefix: the key prefix of this series (``checkpoints/<execution>/<node>``).
    """

    def __init__(self, blobs: BlobStore, prefix: str) -> None:
        self._blobs = blobs
        self._prefix = prefix.rstrip("/")
        self._latest_key = f"{self._prefix}/latest"

    def __repr__(self) -> str:
        return f"Checkpoint(prefix={self._prefix!r})"

    def latest(self) -> CheckpointInfo | None:
        """The latest checkpoint's record, or None when none was saved."""
        uri = self._blobs.uri(self._latest_key)
        if not self._blobs.exists(uri):
            return None
        return msgspec.json.decode(self._blobs.get_bytes(uri), type=CheckpointInfo)

    @property
    def step(self) -> int | None:
        """The latest checkpoint's step, or None."""
        info = self.latest()
        return None if info is None else info.step

    def save(self, state: Any, step: int) -> str:
        """Save ``state`` (any picklable object: a dict of ``state_dict()``s...) as ``step``.

        Returns:
            The URI of the saved data.

        Raises:
            ConfigError: ``step`` is lower than the latest checkpoint's.
        """
        self._check_step(step)
        data = pickle.dumps(state, protocol=pickle.HIGHEST_PROTOCOL)
        uri = self._blobs.put_bytes(f"{self._prefix}/step-{step:012d}.pkl", data)
        self._publish(CheckpointInfo(step=step, kind="object", uri=uri))
        return uri

    def save_folder(self, path: str, step: int) -> str:
        """Save the local folder ``path`` (model files a library wrote) as ``step``."""
        if not os.path.isdir(path):
            raise ConfigError(f"checkpoint folder {path!r} does not exist: write it first")
        self._check_step(step)
        uri = self._blobs.put_dir(f"{self._prefix}/step-{step:012d}", path)
        self._publish(CheckpointInfo(step=step, kind="folder", uri=uri))
        return uri

    def load(self) -> tuple[int, Any] | None:
        """``(step, state)`` of the latest checkpoint saved with :meth:`save`, or None.

        Raises:
            ConfigError: the latest checkpoint is a folder (use :meth:`load_folder`).
        """
        info = self.latest()
        if info is None:
            return None
        if info.kind != "object":
            raise ConfigError("the latest checkpoint is a folder: load it with load_folder()")
        return info.step, pickle.loads(self._blobs.get_bytes(info.uri))

    def load_folder(self, into: str | None = None) -> tuple[int, str] | None:
        """``(step, local folder)`` of the latest checkpoint saved with :meth:`save_folder`
        (copied into ``into``, or a new temporary folder), or None."""
        info = self.latest()
        if info is None:
            return None
        if info.kind != "folder":
            raise ConfigError("the latest checkpoint is an object: load it with load()")
        target = into or tempfile.mkdtemp(prefix="airfoil-checkpoint-")
        self._blobs.get_dir(info.uri, target)
        return info.step, target

    def _check_step(self, step: int) -> None:
        if isinstance(step, bool) or not isinstance(step, int) or step < 0:
            raise ConfigError(f"a checkpoint step is a non-negative int, got {step!r}")
        latest = self.step
        if latest is not None and step < latest:
            raise ConfigError(
                f"checkpoint step {step} is older than the latest ({latest}): steps only move "
                "forward"
            )

    def _publish(self, info: CheckpointInfo) -> None:
        self._blobs.put_bytes(self._latest_key, msgspec.json.encode(info))
