"""Group commit across a server's driver slots.

Each slot drives one execution and commits a batch per turn before acting on it (a task's
end and its successor's start). :class:`SharedCommits` lets the slots' batches that are
waiting at the same moment reach the store together: the first slot to arrive writes its
batch and every batch queued behind it meanwhile in one call of the store's
``write_many`` (on PostgreSQL one fenced statement and one commit, see
``store.sql._fenced_many``); the others wait for that write and go on once their own batch
is committed. Nobody waits on purpose: a batch alone is written at once, and batches group
only while a write is in flight.

Invariants:

- :meth:`SharedCommits.write` returns only once the batch is committed (durable as the
  store's commit is), or raises the batch's own error (a lost lease: ``ConflictError``):
  exactly what ``MetaStore.write`` promises, so a drive acts on a batch only after it is
  durable, as without grouping.
- One write at a time: the slot that writes holds no lock while it does; the batches that
  arrive meanwhile are queued and written by the next writer, in arrival order.
- Each execution is fenced on its own: one execution's lost lease never fails another's batch.
"""

from __future__ import annotations

import threading
from typing import Protocol

from airfoil.core.records import StoreBatch

__all__ = ["BatchWriter", "SharedCommits"]


class BatchWriter(Protocol):
    """A store that writes several batches at once (``SqlMetaStore``)."""

    def write_many(self, batches: list[StoreBatch]) -> list[Exception | None]: ...


class _Waiting:
    __slots__ = ("batch", "done", "error")

    def __init__(self, batch: StoreBatch) -> None:
        self.batch = batch
        self.done = False
        self.error: Exception | None = None


class SharedCommits:
    """The commits of a server's driver slots, grouped while a write is in flight."""

    def __init__(self, store: BatchWriter) -> None:
        self.store = store
        self._cv = threading.Condition()
        self._queue: list[_Waiting] = []
        self._writing = False
        #: writes made, and batches they carried (``batches / writes``: the grouping)
        self.writes = 0
        self.batches = 0

    def write(self, batch: StoreBatch) -> None:
        """Commit ``batch`` (with whatever other slots' batches wait at the same time).

        Raises:
            ConflictError: the batch's lease is lost (nothing of it was written).
            StoreError: the store refused or could not take the batch.
        """
        me = _Waiting(batch)
        with self._cv:
            self._queue.append(me)
            while self._writing and not me.done:
                self._cv.wait()
            group: list[_Waiting] = []
            if not me.done:
                self._writing = True
                group, self._queue = self._queue, []
        if group:
            self._write_group(group)
        if me.error is not None:
            raise me.error

    def _write_group(self, group: list[_Waiting]) -> None:
        results: list[Exception | None] = []
        try:
            # Two batches of one execution never wait together (a drive commits one at a
            # time); write_many would write such a group one batch at a time anyway.
            results = self.store.write_many([w.batch for w in group])
        except Exception as exc:  # write_many answers per batch; never strand a waiter
            results = [exc] * len(group)
        finally:
            with self._cv:
                if len(results) != len(group):  # (only a BaseException leaves it unset)
                    results = [RuntimeError("the group write was interrupted")] * len(group)
                for w, error in zip(group, results, strict=True):
                    w.error = error
                    w.done = True
                self._writing = False
                self.writes += 1
                self.batches += len(group)
                self._cv.notify_all()
