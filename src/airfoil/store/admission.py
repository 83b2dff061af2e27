"""The admission authority's tables: one lease per cluster, and every replica's admission
requests, so that one process (the lease holder) decides admission for all of them.

Two server replicas on one database admitting onto one cluster must not each run the
scheduling policy over their own attempts only: a project's quota and its fair share would
then hold per replica, not per cluster. Instead each replica writes its attempts' requests
here (:meth:`AdmissionStore.put_request`), the holder of the cluster's authority lease reads
them all, runs the policy over them and writes its grants and preemptions back in one
transaction fenced by its lease (:meth:`AdmissionStore.grant`), and each replica reads the
outcome of its own requests (:meth:`AdmissionStore.requests` with ``owner``).

Invariants:

- At most one holder per cluster at a time: :meth:`AdmissionStore.claim_authority` takes a
  free or expired lease (the epoch goes up by one), renews the holder's own, and refuses
  while another holder's lease runs.
- A grant or preemption is written only while its writer still holds the lease with the
  epoch it decided under (checked and locked in the same transaction), so a holder that
  lost its lease (paused, partitioned) writes nothing.
- A request row is keyed by ``(cluster, item_id)``; its ``ticket`` names one submission: a
  grant or preemption applies only to the ticket it was decided for.
- A request whose owner stopped renewing it (``alive_until`` passed: the replica died) is
  removed by the holder's next pass, so a dead replica's attempts stop holding resources.
"""

from __future__ import annotations

import threading
from abc import ABC, abstractmethod
from collections.abc import Sequence

import msgspec

__all__ = [
    "AdmissionRow",
    "AdmissionStore",
    "AuthorityLease",
    "Grant",
    "MemoryAdmissionStore",
    "Preemption",
    "open_admission_store",
]

#: A request's states: waiting for the policy, granted (running), or preempted (stopped by
#: the policy; its owner queues it again with the same ticket).
STATES = ("waiting", "running", "preempted")


class AuthorityLease(msgspec.Struct, frozen=True):
    """Who holds a cluster's admission authority, until when, and under which epoch."""

    cluster: str
    holder: str
    lease_until: float
    epoch: int


class AdmissionRow(msgspec.Struct, frozen=True):
    """One attempt's admission request as the database holds it.

    Attributes:
        item_id: ``execution_id/node_id``.
        owner: the replica (its queue's owner name) that drives the attempt.
        ticket: names this submission (a new one per attempt; kept when a preempted
            attempt is queued again, so its attained service carries over).
        item: the policy's work item as JSON (project, resources per worker, workers,
            priority, submit time, attained service; the engine encodes it, the store keeps
            it whole).
        submit_time: when it was first queued (the order rows are listed in).
        task: the task's name (the run-time estimate's key).
        state: ``waiting``, ``running`` or ``preempted``.
        placement: the policy's node per worker (set with the grant).
        gpus: the GPU indices granted on a machine queue (empty on a cluster).
        granted_at: when it was granted (0 while waiting).
        alive_until: the owner renews this; past it, the owner is taken for dead.
    """

    item_id: str
    owner: str
    ticket: str
    item: str
    task: str
    submit_time: float = 0.0
    state: str = "waiting"
    placement: tuple[str, ...] = ()
    gpus: tuple[str, ...] = ()
    granted_at: float = 0.0
    alive_until: float = 0.0


class Grant(msgspec.Struct, frozen=True):
    """The holder's start of a waiting request: where it runs."""

    item_id: str
    ticket: str
    placement: tuple[str, ...]
    gpus: tuple[str, ...] = ()


class Preemption(msgspec.Struct, frozen=True):
    """The holder's stop of a running request, with its item as the policy left it (its
    attained service grown by what it ran), so whoever decides next resumes it from there."""

    item_id: str
    ticket: str
    item: str


class AdmissionStore(ABC):
    """Authority leases and admission requests (see the module's invariants)."""

    @abstractmethod
    def claim_authority(
        self, cluster: str, holder: str, now: float, ttl_s: float
    ) -> AuthorityLease:
        """Take the cluster's authority for ``holder`` if it is free, expired or already
        ``holder``'s (renewed until ``now + ttl_s``; taking it from another bumps the
        epoch); return the lease as it stands after the call (another holder's if it was
        not free)."""

    @abstractmethod
    def authority(self, cluster: str) -> AuthorityLease | None:
        """The cluster's lease, or None if nobody ever held it."""

    @abstractmethod
    def release_authority(self, cluster: str, holder: str) -> None:
        """Give the authority up now (a clean shutdown), if ``holder`` holds it."""

    @abstractmethod
    def put_request(self, cluster: str, row: AdmissionRow) -> None:
        """Queue a request: a row of the same ``item_id`` and ticket goes back to waiting
        (a preempted attempt queued again); one of another ticket is replaced; a new row is
        written as given (``running`` with its grant: a granted request its owner puts back
        after it was taken for dead)."""

    @abstractmethod
    def delete_requests(self, cluster: str, keys: Sequence[tuple[str, str]]) -> None:
        """Remove requests by ``(item_id, ticket)`` (ended, cancelled, or of a dead owner)."""

    @abstractmethod
    def requests(self, cluster: str, owner: str | None = None) -> list[AdmissionRow]:
        """The cluster's requests (only ``owner``'s if given), oldest submission first."""

    @abstractmethod
    def renew_requests(self, cluster: str, owner: str, alive_until: float) -> None:
        """``owner`` is alive: its requests' ``alive_until`` becomes this."""

    @abstractmethod
    def grant(
        self,
        cluster: str,
        holder: str,
        epoch: int,
        now: float,
        grants: Sequence[Grant],
        preemptions: Sequence[Preemption],
    ) -> bool:
        """Write the holder's decisions, if it still holds the lease under ``epoch`` at
        ``now`` (else nothing is written: False). A grant applies to a waiting request of
        its ticket, a preemption to a running one; others are left alone (the next pass
        sees what happened to them)."""

    def close(self) -> None:  # noqa: B027 - nothing to release unless overridden
        """Release connections."""


class MemoryAdmissionStore(AdmissionStore):
    """An in-process :class:`AdmissionStore` (tests, ``memory://``)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._leases: dict[str, AuthorityLease] = {}
        self._rows: dict[str, dict[str, AdmissionRow]] = {}

    def claim_authority(
        self, cluster: str, holder: str, now: float, ttl_s: float
    ) -> AuthorityLease:
        with self._lock:
            lease = self._leases.get(cluster)
            if lease is None:
                lease = AuthorityLease(cluster, holder, now + ttl_s, 1)
            elif lease.holder == holder:
                lease = msgspec.structs.replace(lease, lease_until=now + ttl_s)
            elif lease.lease_until <= now:
                lease = AuthorityLease(cluster, holder, now + ttl_s, lease.epoch + 1)
            self._leases[cluster] = lease
            return lease

    def authority(self, cluster: str) -> AuthorityLease | None:
        with self._lock:
            return self._leases.get(cluster)

    def release_authority(self, cluster: str, holder: str) -> None:
        with self._lock:
            lease = self._leases.get(cluster)
            if lease is not None and lease.holder == holder:
                self._leases[cluster] = msgspec.structs.replace(lease, lease_until=0.0)

    def put_request(self, cluster: str, row: AdmissionRow) -> None:
        with self._lock:
            rows = self._rows.setdefault(cluster, {})
            old = rows.get(row.item_id)
            if old is not None and old.ticket == row.ticket:
                row = msgspec.structs.replace(
                    old, state="waiting", placement=(), gpus=(), granted_at=0.0,
                    item=row.item, owner=row.owner, alive_until=row.alive_until,
                )  # fmt: skip
            rows[row.item_id] = row

    def delete_requests(self, cluster: str, keys: Sequence[tuple[str, str]]) -> None:
        with self._lock:
            rows = self._rows.get(cluster, {})
            for item_id, ticket in keys:
                old = rows.get(item_id)
                if old is not None and old.ticket == ticket:
                    del rows[item_id]

    def requests(self, cluster: str, owner: str | None = None) -> list[AdmissionRow]:
        with self._lock:
            rows = list(self._rows.get(cluster, {}).values())
        rows = [r for r in rows if owner is None or r.owner == owner]
        return sorted(rows, key=lambda r: (r.submit_time, r.item_id))

    def renew_requests(self, cluster: str, owner: str, alive_until: float) -> None:
        with self._lock:
            rows = self._rows.get(cluster, {})
            for key, row in rows.items():
                if row.owner == owner:
                    rows[key] = msgspec.structs.replace(row, alive_until=alive_until)

    def grant(
        self,
        cluster: str,
        holder: str,
        epoch: int,
        now: float,
        grants: Sequence[Grant],
        preemptions: Sequence[Preemption],
    ) -> bool:
        with self._lock:
            lease = self._leases.get(cluster)
            if lease is None or (lease.holder, lease.epoch) != (holder, epoch):
                return False
            if lease.lease_until <= now:
                return False
            rows = self._rows.setdefault(cluster, {})
            for g in grants:
                row = rows.get(g.item_id)
                if row is not None and row.ticket == g.ticket and row.state == "waiting":
                    rows[g.item_id] = msgspec.structs.replace(
                        row, state="running", placement=g.placement, gpus=g.gpus, granted_at=now
                    )
            for p in preemptions:
                row = rows.get(p.item_id)
                if row is not None and row.ticket == p.ticket and row.state == "running":
                    rows[p.item_id] = msgspec.structs.replace(
                        row, state="preempted", item=p.item, placement=(), gpus=()
                    )
            return True


def open_admission_store(database_url: str | None, home: str) -> AdmissionStore:
    """The admission tables on the metadata store's database: memory for ``memory://``,
    else the SQL ones (the embedded default: SQLite at ``{home}/airfoil.db``).

    Raises:
        StoreError: the database cannot be reached or migrated.
    """
    import os

    if database_url == "memory://":
        return MemoryAdmissionStore()
    from airfoil.store.sql._admission import SqlAdmissionStore

    if database_url is None:
        path = os.path.join(os.path.abspath(os.path.expanduser(home)), "airfoil.db")
        database_url = "sqlite:///" + path
    return SqlAdmissionStore(database_url)
