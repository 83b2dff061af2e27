"""Group commit: a drive's batches made durable in its journal, the store written in groups.

A drive commits a batch before acting on it. With a journal (local runs), a batch that
holds only node, attempt and event records -- a map item's end, a chained task's end and its
successor's start -- is appended to the execution's journal (``_journal``): durable against
a kill of the process at the cost of one ``os.write``. The journaled records reach the
store together, in one transaction:

- with the next batch that cannot be journaled (it changes the execution record, e.g. the
  run's end, or puts cache entries other executions may read);
- once ``max_records`` records are pending, or ``max_s`` seconds after the last store write
  (checked on the loop's clock at each commit);
- ``max_s`` seconds (real time) after the first pending record, by the drive's lease
  thread (``_lease.Heartbeat`` calls :meth:`GroupCommit.fold_due`), when the loop is busy
  elsewhere meanwhile (an inline task runs in the loop's own thread) and has not committed
  for another ``max_s / 4``: so readers of the store in other threads or processes (the
  console, ``airfoil executions show``) see a running execution at most ``1.25 * max_s``
  seconds late (and the lease thread's wake-up), however long its tasks run. A loop that
  keeps committing folds from memory when its own clock passes ``max_s``.

Invariants:

- One lock orders the loop's commits and the lease thread's folds: a fold writes everything
  journaled so far, in one transaction fenced by the lease, and then empties the journal.
- The lease thread writes what the journal file holds (snapshots taken when each line was
  written), never the loop's live records, which the loop may be changing meanwhile.
- A fold that fails in the lease thread (the lease lost, the store away) is raised by the loop's
  next commit; what it would have written stays in the journal for the next drive.
"""

from __future__ import annotations

import logging
import threading
import time

from airfoil.core.records import StoreBatch
from airfoil.engine._drive_support import items_only
from airfoil.engine._journal import ItemJournal, Pending
from airfoil.store.base import MetaStore

__all__ = ["GroupCommit"]

log = logging.getLogger("airfoil.engine")


class GroupCommit:
    """The commits of one drive of one execution (see the module docstring)."""

    def __init__(
        self,
        meta: MetaStore,
        journal: ItemJournal | None,
        execution_id: str,
        fence: tuple[str, str],
        *,
        now: float,
        max_records: int,
        max_s: float,
    ) -> None:
        self.meta = meta
        self.journal = journal
        self.execution_id = execution_id
        self.fence = fence
        self.max_records = max_records
        self.max_s = max_s
        #: journaled records not yet in the store
        self.pending = Pending()
        #: the loop's clock at the last store write
        self.stored_at = now
        self._lock = threading.Lock()
        self._due: float | None = None  # time.monotonic() when the lease thread folds
        self._stopped = False
        self._failed: BaseException | None = None
        self._commits = 0  # the loop's commits so far (the lease thread sees it is busy)
        self._seen = 0  # ... as the lease thread saw them when its fold came due
        #: how many folds the lease thread made
        self.thread_folds = 0

    def commit(self, batch: StoreBatch, now: float) -> bool:
        """Make ``batch`` durable: journal it, or write it to the store with everything
        journaled before it. Whether it was written somewhere a reader of this execution's
        state should look again (the store, or the journal for anything but map items).

        Raises:
            ConflictError: the lease is lost (here or in the lease thread's fold).
            StoreError: the store refused the write (here or in the lease thread's fold).
        """
        with self._lock:
            if self._failed is not None:
                raise self._failed
            self._commits += 1
            journal = self.journal
            pending = self.pending
            if (
                journal is not None
                and batch.execution is None
                and not batch.cache_puts
                and len(pending) < self.max_records
                and now - self.stored_at < self.max_s
            ):
                eid = self.execution_id
                if items_only(batch):
                    journal.append(eid, batch.attempts)
                    pending.add_attempts(batch.attempts)
                    visible = False
                else:
                    journal.append_batch(eid, batch)
                    pending.add(batch)
                    visible = True
                if self._due is None:  # the lease thread folds then, unless a commit does
                    self._due = time.monotonic() + self.max_s
                return visible
            journaled = bool(pending)
            if journaled:
                batch = pending.fold_into(batch)
            batch.lease = self.fence
            self.meta.write(batch)
            self._stored(now, journaled)
            return True

    def close(self) -> None:
        """No more folds (what is still journaled stays for the next drive)."""
        with self._lock:
            self._stopped = True

    def fold_due(self) -> float:
        """Fold the journal into the store if it has waited ``max_s`` seconds (called by
        the lease thread); the seconds until it wants to be asked again."""
        if self.journal is None:
            return float("inf")  # nothing is ever journaled: the lease's beat alone
        with self._lock:
            due = self._due
            if due is None or self._stopped:
                return self.max_s
            left = due - time.monotonic()
            if left > 0:
                return left
            if self._commits != self._seen:
                # The loop is committing: it folds from memory when its own clock says so
                # (cheaper than reading the journal back); look again in a moment.
                self._seen = self._commits
                return self.max_s / 4
            self._fold()
            return self.max_s

    def _stored(self, now: float, journaled: bool) -> None:
        """After a store write that carried everything pending (lock held)."""
        self.stored_at = now
        self._due = None
        if journaled:
            self.pending = Pending()
            assert self.journal is not None
            self.journal.clear(self.execution_id)  # its records are in the store now

    def _fold(self) -> None:
        """Write what the journal holds to the store (lock held, in the lease thread)."""
        assert self.journal is not None
        lines = self.journal.read(self.execution_id)
        folded = Pending()
        for line in lines:
            folded.add_line(line)
        batch = folded.fold_into(StoreBatch())
        try:
            if batch:
                batch.lease = self.fence
                self.meta.write(batch)
        except Exception as exc:  # the loop raises it at its next commit
            log.warning("folding the journal of %s failed: %s", self.execution_id, exc)
            self._failed = exc
            self._due = None
            return
        self.thread_folds += 1
        # the loop's clock is not this thread's to read: keep the loop's last store time
        self._stored(self.stored_at, bool(self.pending))
