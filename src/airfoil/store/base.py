"""Abstract store classes. The engine and the type engine only ever see these.

Invariants every backend keeps (checked by the conformance suite):

- ``write(batch)`` is atomic: all of a batch is visible or none of it.
- Event ``seq`` numbers are unique per execution; events come back ordered by ``seq``.
- Records come back equal to what was written (round-trip through the backend's encoding).
- A blob is never visible half-written: ``put`` writes to a temporary name and renames.
- Blob keys are content-addressed by their callers; putting the same key twice is harmless.
"""

from __future__ import annotations

import abc
from collections.abc import Collection

import msgspec

from airfoil.core.blobs import BlobStore
from airfoil.core.errors import ConfigError, ConflictError, NotFoundError
from airfoil.core.records import (
    AttemptRecord,
    CacheEntry,
    EventRecord,
    ExecutionHead,
    ExecutionRecord,
    ExecutionRunHead,
    NodeRecord,
    StoreBatch,
    execution_head,
)
from airfoil.store._cache_scopes import CacheScopeStore
from airfoil.store._control import ControlInbox
from airfoil.store._observability import ObservabilityStore
from airfoil.store._scheduling import SchedulingStore
from airfoil.store._unreadable import OnUnreadable

__all__ = ["BlobStore", "ExecutionView", "MetaStore"]


def check_page(limit: int, offset: int = 0) -> None:
    """Refuse a negative ``limit`` or ``offset`` (backends would disagree on their meaning).

    Raises:
        ConfigError: either is negative.
    """
    if limit < 0 or offset < 0:
        raise ConfigError(f"invalid page limit={limit} offset={offset}: both must be >= 0")


def missing_execution(execution_id: str) -> NotFoundError:
    """The error for a batch whose nodes, attempts or events name an unknown execution."""
    return NotFoundError(
        f"execution {execution_id!r} does not exist: write its ExecutionRecord before (or in "
        "the same batch as) its nodes, attempts and events"
    )


def lease_lost(execution_id: str) -> ConflictError:
    """The error for a batch written under a lease its writer no longer holds."""
    return ConflictError(
        f"lost the lease on execution {execution_id}: another engine drives it now (this "
        "driver was stalled past the lease); nothing of the batch was written"
    )


class ExecutionView(msgspec.Struct, frozen=True):
    """What an execution's detail shows, read together (:meth:`MetaStore.view_execution`).

    Attributes:
        execution: its record (read ``full``) or its head (a store may give the record
            instead where the execution ended since ``after_seq``: the SQL store does, in the
            same statement, for the outputs that came with the end).
        lease: ``(owner, expires_at)`` of its lease, or None.
        last_seq: the ``seq`` of its newest event (0: none yet), or the ``after_seq`` asked
            with when no event is newer.
        nodes: all its nodes (ordered as :meth:`MetaStore.get_nodes`) when ``last_seq`` is
            past the ``after_seq`` asked with, else None: no event since, so nothing of it
            changed (every change appends an event) but possibly its lease.
        attempts: all its attempts likewise (ordered as :meth:`MetaStore.get_attempts`).
    """

    execution: ExecutionRecord | ExecutionHead
    lease: tuple[str, float] | None
    last_seq: int
    nodes: list[NodeRecord] | None
    attempts: list[AttemptRecord] | None


class MetaStore(CacheScopeStore, ControlInbox, SchedulingStore, ObservabilityStore, abc.ABC):
    """Metadata of runs: executions, nodes, attempts, the event log, and the cache; and
    (from :class:`~airfoil.store._scheduling.SchedulingStore`) project quotas, the
    admission queue's snapshots and task run-time history."""

    # --- writes -------------------------------------------------------------------------

    @abc.abstractmethod
    def write(self, batch: StoreBatch) -> None:
        """Atomically upsert the batch's execution, nodes and attempts, append its events and
        put its cache entries (a cache put replaces an entry with the same key).

        Nodes are keyed by ``(execution_id, node_id)``; attempts by
        ``(execution_id, node_id, attempt)``; events by ``(execution_id, seq)`` and an event
        whose key exists raises :class:`~airfoil.core.errors.ConflictError` (nothing of the
        batch is written then).
        """

    # --- executions ---------------------------------------------------------------------

    @abc.abstractmethod
    def get_execution(self, execution_id: str) -> ExecutionRecord:
        """Return one execution. Raises NotFoundError if there is none with that id."""

    @abc.abstractmethod
    def find_executions(self, project: str, ref: str) -> list[tuple[str, str, str]]:
        """``(id, domain, name)`` of every execution of ``project`` named ``ref`` (in any
        domain) or whose id is ``ref``, in no particular order: what
        :meth:`resolve_execution` decides from."""

    def resolve_execution(
        self, project: str, ref: str, domain: str | None = None, *, how: str = "--domain, ?domain="
    ) -> str:
        """The id of the execution ``project`` calls ``ref``: the one named ``ref`` in
        ``domain`` (or in the only domain that has one), else the one whose id is ``ref``.
        Only ``project``'s executions are looked at, so nothing is learned of another
        project's (a name or an id of theirs is not found, as one that does not exist).
        ``how``: how the caller names the domain, for the 409's message.

        Raises:
            NotFoundError: ``project`` has no such execution.
            ConflictError: the name is used in several domains and none was given.
        """
        if "\x00" in ref or "\x00" in (domain or ""):  # no name or id holds one (nor may
            rows = []  # PostgreSQL's text be asked for one)
        else:
            rows = self.find_executions(project, ref)
        named = [r for r in rows if r[2] == ref and (domain is None or r[1] == domain)]
        if len(named) == 1:
            return named[0][0]
        if len(named) > 1:
            domains = ", ".join(sorted(r[1] for r in named))
            raise ConflictError(
                f"project {project!r} has an execution named {ref!r} in several domains "
                f"({domains}): name the domain ({how}), or use its id "
                f"({', '.join(sorted(r[0] for r in named))})"
            )
        by_id = [r for r in rows if r[0] == ref and (domain is None or r[1] == domain)]
        if by_id:
            return by_id[0][0]
        where = f"project {project!r}" + (f", domain {domain!r}" if domain else "")
        raise NotFoundError(f"execution {ref!r} does not exist in {where}")

    @abc.abstractmethod
    def execution_projects(self) -> list[str]:
        """The projects that have at least one execution, sorted: with the registered ones,
        the projects there are (a local run's project is never registered)."""

    def execution_names(self, ids: Collection[str]) -> dict[str, tuple[str, str]]:
        """The name and domain of each of the executions ``ids`` (what a listing of their
        attempts shows, and links by: a name is unique within its project and domain only);
        one head read each, an id that does not exist left out."""
        names = {}
        for eid in set(ids):
            try:
                head = self.get_execution_head(eid)
            except NotFoundError:
                continue
            names[eid] = (head.display_name, head.domain)
        return names

    @abc.abstractmethod
    def idempotent_launch(self, project: str, key: str) -> str | None:
        """The id of the execution of ``project`` that holds idempotency key ``key`` (the
        launch request that made it sent it), None if none holds it."""

    @abc.abstractmethod
    def release_idempotency_key(self, execution_id: str, key: str) -> bool:
        """Let execution ``execution_id`` hold ``key`` no longer (its server's retention
        window for it passed), so a new launch may use it; whether it held it."""

    def name_taken(self, project: str, domain: str, name: str) -> bool:
        """Whether an execution of ``project`` and ``domain`` is named ``name``."""
        return any(r[1] == domain and r[2] == name for r in self.find_executions(project, name))

    def get_execution_head(self, execution_id: str) -> ExecutionHead:
        """:meth:`get_execution` as a head (no spec, inputs or outputs: what a phase or
        project check needs, without decoding the graph). Raises NotFoundError likewise."""
        return execution_head(self.get_execution(execution_id))

    @abc.abstractmethod
    def list_executions(
        self,
        *,
        project: str | None = None,
        domain: str | None = None,
        workflow: str | None = None,
        phase: str | None = None,
        limit: int = 50,
        offset: int = 0,
        on_unreadable: OnUnreadable | None = None,
    ) -> list[ExecutionRecord]:
        """Executions matching all given filters, newest first (``created_at`` desc, then
        ``id`` desc: ids sort by creation time). A negative limit or offset is a
        ConfigError. A stored record that no longer decodes (written by an older or faulty
        version) is left out and handed to ``on_unreadable`` as an UnreadableRecordError
        (logged as a warning where it is None): one bad record never fails the listing."""

    def list_execution_heads(
        self,
        *,
        project: str | None = None,
        domain: str | None = None,
        workflow: str | None = None,
        phase: str | None = None,
        limit: int = 50,
        offset: int = 0,
        on_unreadable: OnUnreadable | None = None,
    ) -> list[ExecutionHead]:
        """:meth:`list_executions` as heads (no spec, inputs or
        outputs): what a listing shows, without decoding each row's graph."""
        records = self.list_executions(
            project=project, domain=domain, workflow=workflow, phase=phase, limit=limit,
            offset=offset, on_unreadable=on_unreadable,
        )  # fmt: skip
        return [execution_head(r) for r in records]

    def list_run_heads(
        self,
        *,
        project: str | None = None,
        workflow: str | None = None,
        phase: str | None = None,
        limit: int = 50,
        offset: int = 0,
        domain: str | None = None,
    ) -> list[ExecutionRunHead]:
        """:meth:`list_executions` as heads with their inputs (the experiment table), newest
        first (from the ``offset``-th), without decoding each row's graph."""
        records = self.list_executions(
            project=project, domain=domain, workflow=workflow, phase=phase, limit=limit,
            offset=offset,
        )  # fmt: skip
        return [
            ExecutionRunHead(**msgspec.structs.asdict(execution_head(r)), inputs=r.inputs)
            for r in records
        ]

    def page_execution_heads(
        self,
        *,
        project: str | None = None,
        domain: str | None = None,
        workflow: str | None = None,
        phase: str | None = None,
        limit: int = 50,
        offset: int = 0,
        on_unreadable: OnUnreadable | None = None,
    ) -> tuple[list[ExecutionHead], int]:
        """A page of :meth:`list_execution_heads` and :meth:`count_executions` of the same
        filters (a listing's page and its total): one read where the store can. The total
        counts the rows that do not decode too (each left out of the page and handed to
        ``on_unreadable``): the page's items and its unreadable rows add up to its rows."""
        f = {"project": project, "domain": domain, "workflow": workflow, "phase": phase}
        items = self.list_execution_heads(
            **f, limit=limit, offset=offset, on_unreadable=on_unreadable
        )
        return items, self.count_executions(**f)

    def page_execution_heads_leased(
        self,
        *,
        project: str | None = None,
        domain: str | None = None,
        workflow: str | None = None,
        phase: str | None = None,
        limit: int = 50,
        offset: int = 0,
        on_unreadable: OnUnreadable | None = None,
    ) -> tuple[list[ExecutionHead], int, dict[str, tuple[str, float]]]:
        """:meth:`page_execution_heads` with the leases of the page's unfinished executions
        (:meth:`get_leases`): what a listing shows, in one read where the store can."""
        f = {"project": project, "domain": domain, "workflow": workflow, "phase": phase}
        items, total = self.page_execution_heads(
            **f, limit=limit, offset=offset, on_unreadable=on_unreadable
        )
        active = [r.id for r in items if r.phase in ("queued", "running")]
        return items, total, self.get_leases(active) if active else {}

    def view_execution(
        self,
        execution_id: str,
        *,
        after_seq: int = -1,
        full: bool = True,
        on_unreadable: OnUnreadable | None = None,
    ) -> ExecutionView:
        """An execution's record (its head unless ``full``), lease and newest event's seq,
        and its nodes and attempts unless no event came after ``after_seq`` (-1: always):
        what its detail shows, from one snapshot in one read where the store can. Here: the
        events first, so the seq answered never runs ahead of the rest. Raises
        NotFoundError, and UnreadableRecordError for a record that does not decode (with
        ``on_unreadable``: only for the execution's own; a node or attempt is left out and
        handed to it)."""
        events = self.get_events(
            execution_id, after_seq=max(after_seq, 0), on_unreadable=on_unreadable
        )
        last = events[-1].seq if events else max(after_seq, 0)
        rec: ExecutionRecord | ExecutionHead
        rec = self.get_execution(execution_id) if full else self.get_execution_head(execution_id)
        lease = self.get_lease(execution_id)
        if last <= after_seq:
            return ExecutionView(rec, lease, last, None, None)
        nodes = self.get_nodes(execution_id, on_unreadable=on_unreadable)
        attempts = self.get_attempts(execution_id, on_unreadable=on_unreadable)
        return ExecutionView(rec, lease, last, nodes, attempts)

    @abc.abstractmethod
    def count_executions(
        self,
        *,
        project: str | None = None,
        domain: str | None = None,
        workflow: str | None = None,
        phase: str | None = None,
    ) -> int:
        """How many executions match the filters."""

    # --- nodes, attempts, events --------------------------------------------------------

    @abc.abstractmethod
    def get_nodes(
        self, execution_id: str, *, on_unreadable: OnUnreadable | None = None
    ) -> list[NodeRecord]:
        """All nodes of an execution, ordered by ``node_id``. Empty if none.

        A stored node that no longer decodes raises UnreadableRecordError: whoever acts on
        the nodes (the engine) must see all of them. A reader that only shows them passes
        ``on_unreadable``: such a node is left out and handed to it. Likewise the attempts
        and events below."""

    @abc.abstractmethod
    def get_node(self, execution_id: str, node_id: str) -> NodeRecord:
        """One node. Raises NotFoundError, or UnreadableRecordError if it does not decode."""

    @abc.abstractmethod
    def get_attempts(
        self,
        execution_id: str,
        node_id: str | None = None,
        *,
        on_unreadable: OnUnreadable | None = None,
    ) -> list[AttemptRecord]:
        """Attempts of an execution (of one node if given), ordered by node then attempt
        (``on_unreadable``: as in :meth:`get_nodes`)."""

    @abc.abstractmethod
    def get_events(
        self,
        execution_id: str,
        after_seq: int = 0,
        *,
        limit: int | None = None,
        on_unreadable: OnUnreadable | None = None,
    ) -> list[EventRecord]:
        """Events of an execution with ``seq > after_seq``, ordered by ``seq``: the first
        ``limit`` of them, or all with None (``on_unreadable``: as in :meth:`get_nodes`; an
        unreadable event counts toward ``limit``)."""

    # --- cache --------------------------------------------------------------------------

    @abc.abstractmethod
    def get_cache(self, key: str) -> CacheEntry | None:
        """The cache entry for a key, or None."""

    @abc.abstractmethod
    def list_cache(self, *, task: str | None = None, limit: int = 1000) -> list[CacheEntry]:
        """Cache entries (of one task if given), newest first."""

    @abc.abstractmethod
    def find_cache_by_task(self, task: str, limit: int = 20) -> list[CacheEntry]:
        """The newest entries of one task (used to explain a miss). Newest first."""

    @abc.abstractmethod
    def delete_cache(self, *, key: str | None = None, task: str | None = None) -> int:
        """Delete one entry by key, all of one task, or everything if neither is given.
        Returns how many were deleted."""

    @abc.abstractmethod
    def reserve_cache(self, key: str, owner: str, now: float, ttl_s: float) -> str:
        """Try to become the one attempt that computes ``key`` (``cache_serialize``).

        Returns the owner holding the reservation after the call: ``owner`` if it got it (or
        already had it, or the previous holder's reservation had expired), else the current
        holder. Atomic across processes sharing the store.
        """

    @abc.abstractmethod
    def release_cache(self, key: str, owner: str) -> None:
        """Drop a reservation if ``owner`` holds it."""

    # --- execution leases (one driver per execution) -----------------------------------

    @abc.abstractmethod
    def acquire_lease(self, execution_id: str, owner: str, now: float, ttl_s: float) -> bool:
        """Become (or stay) the driver of an execution. True if ``owner`` holds the lease
        after the call; False if another owner holds an unexpired one. Atomic."""

    @abc.abstractmethod
    def release_lease(self, execution_id: str, owner: str) -> None:
        """Give the lease back if ``owner`` holds it."""

    @abc.abstractmethod
    def get_lease(self, execution_id: str) -> tuple[str, float] | None:
        """``(owner, expires_at)`` of the lease on an execution, or None if there is none.

        Lets a driver on the same host see that the holder's process is dead and take over
        at once instead of waiting for the lease to expire.
        """

    def get_leases(self, execution_ids: Collection[str]) -> dict[str, tuple[str, float]]:
        """:meth:`get_lease` of several executions at once: ``{id: (owner, expires_at)}`` of
        those that have a lease (a listing's one read instead of one per row)."""
        found = {}
        for eid in execution_ids:
            lease = self.get_lease(eid)
            if lease is not None:
                found[eid] = lease
        return found

    def claim_execution(
        self,
        owner: str,
        now: float,
        ttl_s: float,
        *,
        code_root_prefix: str = "",
        exclude: Collection[str] = (),
    ) -> str | None:
        """Take the lease of the oldest unfinished execution nobody drives; return its id.

        A driver's claim: an execution ``queued`` or ``running`` whose lease is free or
        expired (the oldest first), whose ``code_root`` starts with ``code_root_prefix`` and
        whose id is not in ``exclude``, leased to ``owner`` until ``now + ttl_s``. Two
        claimers never get the same execution.

        This default scans and takes leases one by one (each acquire is atomic, so it is
        safe, if slower); SQL stores claim in one statement.

        Returns:
            The claimed execution's id, or None if there is nothing to claim.
        """
        candidates: list[ExecutionRecord] = []
        for phase in ("queued", "running"):
            offset = 0
            while True:
                page = self.list_executions(phase=phase, limit=500, offset=offset)
                candidates.extend(page)
                if len(page) < 500:
                    break
                offset += len(page)
        candidates.sort(key=lambda r: (r.created_at, r.id))
        for rec in candidates:
            if rec.id in exclude or not rec.code_root.startswith(code_root_prefix):
                continue
            held = self.get_lease(rec.id)
            if held is not None and held[1] > now:  # driven (even by ``owner``): not free
                continue
            if self.acquire_lease(rec.id, owner, now, ttl_s):
                return rec.id
        return None

    def release_thread_connection(self) -> None:
        """The calling thread will not use the store for a while (a lease's heartbeat
        between beats): let it hand back what it holds for other threads (a SQL store's
        connection). Optional."""

    def close(self) -> None:
        """Release connections. Optional."""
