"""A PostgreSQL store's lazy batches: driver batches committed without waiting for their WAL
flush (``process`` durability), kept in memory until PostgreSQL reports that WAL flushed.

Each synchronous commit waits for one ``fdatasync`` of the WAL, and those bound a server's
rate on a disk like this project's (docs/dev/performance-log.md). Below ``power`` the store commits
a driver's fenced batch lazily, except a batch that ends its execution, one without events,
and a lease's release (those wait, so a client never sees a finished run vanish). A crash of
the engine alone loses nothing (PostgreSQL holds the commit); a crash of PostgreSQL alone
loses nothing either: the store writes its lost batches again. Only both within the WAL
writer's window (``wal_writer_delay``, 0.2 s by default) lose the last batches, as SQLite's
``synchronous=NORMAL`` may on a power loss.

Invariants:

- A batch joins the list once its commit has returned. Its *bound* is the WAL insert
  position (``pg_current_wal_insert_lsn()``) read by a fenced statement that began after it
  joined: every record inserted before that statement began, the batch's commit record
  among them, ends at or below it. When a statement reads a flush position
  (``pg_current_wal_flush_lsn()``, which may lag the truth, never lead it) at or past a
  bound, that commit is on disk: the batch leaves the list. Exact, at worst late.
- A synchronous commit flushes the WAL up to its own commit record, past every commit that
  returned before it began: the batches listed when a synchronous fenced statement (that
  wrote) or a lease's release (that matched) began leave the list once it returns.
- PostgreSQL may have lost what it had not flushed whenever a connection broke or a new one
  was opened while batches were listed or in flight (``suspect``). Before the store's next
  fenced write or lease release, :meth:`UnflushedBatches.settle` looks the listed batches'
  first events up (one query) and writes the missing ones again, synchronously, in the
  order they joined, fenced on their lease as always (an execution's batches are written in
  order, and the WAL is ordered, so its lost batches are its last ones). If the lease has
  passed to another driver meanwhile, the fence refuses: that execution's lost batches are
  dropped and the new holder runs their tasks again, as after any lost lease.
"""

from __future__ import annotations

import logging
import threading
from collections import deque
from collections.abc import Callable

from airfoil.core.errors import ConflictError, TransientStoreError
from airfoil.core.records import StoreBatch

__all__ = ["FlushedTakes", "UnflushedBatches"]

log = logging.getLogger("airfoil.store")


class _Lazy:
    __slots__ = ("batch", "bound", "n")

    def __init__(self, batch: StoreBatch, n: int) -> None:
        self.batch = batch
        self.n = n  # the order it joined in
        self.bound: int | None = None  # a WAL position its commit record ends at or below


class UnflushedBatches:
    """The lazily committed batches PostgreSQL has not reported flushed (module docstring).

    Thread-safe: every thread of a store shares one.
    """

    def __init__(self) -> None:
        self._lock = threading.Condition()
        self._settling = threading.Lock()
        self._waiting: deque[_Lazy] = deque()  # in joining order
        self._unbound: deque[_Lazy] = deque()  # those without a bound yet, in joining order
        self._joined = 0
        self._in_flight = 0
        #: PostgreSQL may have lost unflushed commits: settle before the next fenced write.
        self.suspect = False

    def __len__(self) -> int:
        return len(self._waiting)

    def batches(self) -> list[StoreBatch]:
        """The listed batches, in the order they joined."""
        with self._lock:
            return [lazy.batch for lazy in self._waiting]

    def busy(self) -> bool:
        """Whether a batch is listed or being written lazily (a new connection then makes
        the store suspect a restart)."""
        return bool(self._waiting) or self._in_flight > 0

    def mark(self) -> int:
        """Taken before a statement begins: the batches that joined before it."""
        return self._joined

    def begin(self) -> None:
        """A lazy write's statement is about to run."""
        with self._lock:
            self._in_flight += 1

    def end(self, batch: StoreBatch | None) -> None:
        """A lazy write's statement ended; ``batch`` if it committed (it joins the list)."""
        with self._lock:
            self._in_flight -= 1
            if batch is not None:
                self._join(batch)
            self._lock.notify_all()

    def join(self, batch: StoreBatch) -> None:
        """``batch`` committed lazily (its outcome learnt after a broken connection)."""
        with self._lock:
            self._join(batch)

    def _join(self, batch: StoreBatch) -> None:
        lazy = _Lazy(batch, self._joined)
        self._joined += 1
        self._waiting.append(lazy)
        self._unbound.append(lazy)

    def seen(self, mark: int, inserted: int, flushed: int, *, synchronous: bool) -> None:
        """A fenced statement that began at ``mark`` committed, having read the WAL's
        ``inserted`` and ``flushed`` positions; ``synchronous``: it waited for its flush."""
        with self._lock:
            unbound = self._unbound
            while unbound and unbound[0].n < mark:
                lazy = unbound.popleft()
                if lazy.bound is None:
                    lazy.bound = inserted
            waiting = self._waiting
            while waiting and (
                (synchronous and waiting[0].n < mark)
                or (waiting[0].bound is not None and waiting[0].bound <= flushed)
            ):
                waiting.popleft()

    def flushed(self, mark: int) -> None:
        """A synchronous commit that began at ``mark`` (and wrote) returned."""
        with self._lock:
            while self._waiting and self._waiting[0].n < mark:
                self._waiting.popleft()

    def settle(
        self,
        stored: Callable[[list[StoreBatch]], set[tuple[str, int]]],
        rewrite: Callable[[StoreBatch], None],
    ) -> None:
        """Write again, synchronously, the listed batches PostgreSQL lost, if it may have.

        Args:
            stored: which of the batches' first events ``(execution_id, seq)`` are stored.
            rewrite: writes a batch again, synchronously, fenced on its lease; raises
                :class:`ConflictError` if the lease is lost.

        Raises:
            TransientStoreError: the database is still away (the caller's own write has
                not begun: its outcome is known). The next call settles again.
        """
        if not self.suspect:
            return
        with self._settling:
            while self.suspect:
                self.suspect = False
                with self._lock:  # a write in flight may still join: let it
                    self._lock.wait_for(lambda: self._in_flight == 0)
                    listed = list(self._waiting)
                if not listed:
                    return
                try:
                    self._settle(listed, stored, rewrite)
                except TransientStoreError as exc:
                    self.suspect = True
                    raise TransientStoreError(str(exc)) from exc

    def _settle(
        self,
        listed: list[_Lazy],
        stored: Callable[[list[StoreBatch]], set[tuple[str, int]]],
        rewrite: Callable[[StoreBatch], None],
    ) -> None:
        found = stored([lazy.batch for lazy in listed])
        lost_leases: set[str] = set()
        rewritten = 0
        for lazy in listed:
            first = lazy.batch.events[0]
            if (first.execution_id, first.seq) in found or first.execution_id in lost_leases:
                continue
            try:
                rewrite(lazy.batch)
                rewritten += 1
            except ConflictError:  # the lease passed on: the new holder redoes that work
                lost_leases.add(first.execution_id)
        if rewritten or lost_leases:
            log.warning(
                "PostgreSQL lost %d of %d lazily committed batches: wrote %d again%s",
                len(listed) - len(found),
                len(listed),
                rewritten,
                f"; the lease of {sorted(lost_leases)} had passed on, whose holder runs "
                "their work again"
                if lost_leases
                else "",
            )
        if rewritten:  # a synchronous commit flushed every listed one that survived
            self.flushed(listed[-1].n + 1)
        elif lost_leases:
            with self._lock:
                self._waiting = deque(
                    w for w in self._waiting if w.batch.events[0].execution_id not in lost_leases
                )


Lease = tuple[str, str]


class FlushedTakes:
    """The leases (execution, owner) whose take is known to be on disk, and may therefore
    commit their batches lazily: a take commits lazily too, so a lease's first batch waits
    for its flush, and a take lost with the batches after it would fence their rewrite out.

    Invariants:

    - A lease counts as flushed only while its hold is unbroken as seen from here: from the
      synchronous batch that flushed it, through renewals each made before the hold they
      renew expired, to its release. A renewal that fails (another driver holds the
      lease), comes after the hold expired (another driver may have taken and released it
      meanwhile: the lease taken now is a new take, not on disk), or a lost fence forgets
      the lease, and its next batch waits for its flush again.
    - At most ``limit`` leases are remembered (a driver holds a few at a time; a lease never
      released, by a driver that died or gave up, would otherwise stay for the process's
      life): the longest unrenewed is forgotten first, which only makes its next batch
      synchronous.
    """

    def __init__(self, limit: int = 256) -> None:
        self.limit = limit
        self._lock = threading.Lock()
        #: lease -> (the end of its hold as last taken or renewed here, whether it is on disk)
        self._leases: dict[Lease, tuple[float, bool]] = {}

    def __contains__(self, lease: object) -> bool:
        found = self._leases.get(lease)  # type: ignore[call-overload]
        return found is not None and found[1]

    def __len__(self) -> int:
        return len(self._leases)

    def acquired(self, lease: Lease, held: bool, now: float, expires: float) -> None:
        """``acquire_lease`` answered ``held`` at ``now`` for a hold until ``expires``."""
        with self._lock:
            old = self._leases.pop(lease, None)
            if not held:
                return
            unbroken = old is not None and old[1] and old[0] >= now
            self._remember(lease, (expires, unbroken))

    def flushed(self, lease: Lease) -> None:
        """A synchronous batch under ``lease`` committed (fenced on it): its take is on disk."""
        with self._lock:
            old = self._leases.pop(lease, None)
            # A take this store did not see: its hold's end is unknown, so the next renewal
            # counts as a new take (one more synchronous batch, never a lazy one too early).
            self._remember(lease, (old[0] if old is not None else float("-inf"), True))

    def forget(self, lease: Lease) -> None:
        """The lease was released or found lost."""
        with self._lock:
            self._leases.pop(lease, None)

    def _remember(self, lease: Lease, state: tuple[float, bool]) -> None:
        self._leases[lease] = state  # the newest last: dicts keep insertion order
        while len(self._leases) > self.limit:
            del self._leases[next(iter(self._leases))]
