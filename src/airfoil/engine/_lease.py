"""The driver's lease on an execution, kept alive by a heartbeat thread.

The loop may be stuck for a long time inside one command (an inline attempt runs in the
loop's own thread; a store write can wait on a lock), so the lease is not renewed by the loop
but by a daemon thread every ``ttl / 3`` seconds. Renewing alone is not enough: a driver
whose heartbeat stalled past the lease (a suspended laptop, a stopped process) may find
another engine driving the execution when it wakes up, so every batch the driver writes
carries the lease as a fence (``StoreBatch.lease``), checked inside the batch's transaction:
a driver that lost its lease writes nothing and stops with a ConflictError.

The same thread folds the drive's journal into the store when the loop has not for
``max_s`` seconds (``GroupCommit.fold_due``): one thread per drive does both.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from airfoil.core.clock import Clock
from airfoil.core.errors import ConflictError, NotFoundError, StoreError
from airfoil.store.base import MetaStore

if TYPE_CHECKING:
    from airfoil.engine._group_commit import GroupCommit

__all__ = ["Heartbeat"]


class Heartbeat:
    """Renews one execution's lease from a daemon thread while a drive runs."""

    def __init__(
        self,
        meta: MetaStore,
        clock: Clock,
        execution_id: str,
        owner: str,
        ttl_s: float,
        *,
        group: GroupCommit | None = None,
    ) -> None:
        self.meta = meta
        #: the drive's group commit, whose journal this thread folds when it is due
        self.group = group
        self.clock = clock
        self.execution_id = execution_id
        self.owner = owner
        self.ttl_s = ttl_s
        #: called at every beat the lease was renewed (the drive renews its cache
        #: reservations there: a killed driver's lapse as its lease does)
        self.on_beat: Callable[[], None] | None = None
        self._stop = threading.Event()
        self._lost = threading.Event()
        self._thread = threading.Thread(
            target=self._run, name=f"airfoil-lease-{execution_id}", daemon=True
        )

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive() and self._thread is not threading.current_thread():
            self._thread.join(timeout=self.ttl_s)

    @property
    def fence(self) -> tuple[str, str]:
        """What a batch written under this lease carries (``StoreBatch.lease``)."""
        return (self.execution_id, self.owner)

    def check(self) -> None:
        """Raise if a renewal found the lease taken by another engine.

        Raises:
            ConflictError: the lease is lost.
        """
        if self._lost.is_set():
            raise ConflictError(
                f"lost the lease on execution {self.execution_id}: another engine drives it "
                "now; this driver stops"
            )

    def _run(self) -> None:
        interval = max(0.01, self.ttl_s / 3)
        group = self.group
        beat_at = time.monotonic() + interval
        while True:
            wait = beat_at - time.monotonic()
            if group is not None:
                wait = min(wait, group.fold_due())
            # no connection held while it waits (most of its life): one per drive otherwise
            self.meta.release_thread_connection()
            if self._stop.wait(max(0.0, wait)):
                return
            if time.monotonic() < beat_at:
                continue  # woke to fold: fold_due() at the top of the loop
            beat_at = time.monotonic() + interval
            try:
                held = self.meta.acquire_lease(
                    self.execution_id, self.owner, self.clock.now(), self.ttl_s
                )
            except NotFoundError:
                held = False  # the execution was deleted under the drive
            except StoreError:
                continue  # the store is away for now: try again at the next beat
            if not held:
                self._lost.set()
                return
            on_beat = self.on_beat
            if on_beat is not None:
                try:
                    on_beat()
                except StoreError:
                    continue  # the store is away for now: the next beat renews them
