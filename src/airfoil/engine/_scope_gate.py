"""Who may use a named cache scope: the drive's check of its project's membership.

A task with ``cache_scope="features"`` reads and writes the entries of ``shared:features``
rather than its project's own. The scope's members (:mod:`airfoil.store._cache_scopes`) say
which projects may read it and which may also write it; :class:`ScopeGate` asks the store for
the drive's project and keeps the answer ``ttl_s`` (2 s), so a membership revoked while a run
goes on applies to its lookups and writes within that.

- **write**: lookups and writes, as before.
- **read**: lookups only. A miss runs the task; its outputs are passed on and never written to
  the scope (no ``cache_serialize`` reservation either: a reader never makes a writer wait).
- **none**: the lookup is refused with :class:`~airfoil.core.errors.CacheScopeAccessError`,
  which fails the run: never a miss that looks like one (see docs/caching.md for why, rather
  than a silent fallback to the project's own scope).

An undeclared scope is open (every project writes it: the single user of a local home) unless
the engine runs with ``declared_only`` (a server), where it is refused like a scope the project
is no member of, with the same words: the answer tells a key nothing about scopes it cannot use.

Every write of an entry to a shared scope is checked again when the batch is committed
(:meth:`ScopeGate.writable`), whatever made it: the state machine's bookkeeping above is what
the user sees; this is the boundary.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from airfoil.core.errors import CacheScopeAccessError
from airfoil.core.phases import ErrorKind
from airfoil.core.records import CacheEntry, ErrorInfo
from airfoil.engine._commands import LookupCache
from airfoil.engine._drive_support import reserve
from airfoil.engine._events import CacheLooked, EngineFailed
from airfoil.engine.cache import SHARED_SCOPE, explain_miss
from airfoil.engine.cache_io import unusable_outputs
from airfoil.store._cache_scopes import CacheScopeStore
from airfoil.store.base import BlobStore, MetaStore

__all__ = ["SHARED", "ScopeGate", "look_up", "refusal"]

log = logging.getLogger("airfoil.engine")

#: The prefix of a shared scope in a cache key's parts (``engine.cache.cache_scope``).
SHARED = SHARED_SCOPE  # the one prefix, as engine.cache.cache_scope writes it


def refusal(scope: str, project: str, task: str) -> CacheScopeAccessError:
    """The error of a project that may not use ``scope`` (a name, without ``shared:``)."""
    return CacheScopeAccessError(
        f"project {project!r} may not use cache scope {scope!r} (task {task!r} sets "
        f"cache_scope={scope!r}): only the scope's members read or write its entries. Ask an "
        f"admin to run `airfoil cache scopes grant {scope} {project}` (`--read` for read "
        f"only; `airfoil cache scopes create {scope}` first if it is new), or remove "
        "cache_scope= to cache in the project's own scope",
        scope=scope,
        project=project,
    )


class ScopeGate:
    """The access of one project to the shared scopes, read from the store.

    Args:
        store: where the scopes' members are kept.
        project: the project of the drive's execution.
        declared_only: refuse an undeclared scope (a server) instead of opening it.
        ttl_s: how long an answer is kept.
        clock: monotonic seconds (tests pass a fake).
    """

    def __init__(
        self,
        store: CacheScopeStore,
        project: str,
        *,
        declared_only: bool,
        ttl_s: float = 2.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.store = store
        self.project = project
        self.declared_only = declared_only
        self.ttl_s = ttl_s
        self._clock = clock
        self._known: dict[str, tuple[float, str]] = {}

    def access(self, scope: str) -> str:
        """``write``, ``read`` or ``""`` for a key's scope (a project's own: ``write``)."""
        if not scope.startswith(SHARED):
            return "write"
        now = self._clock()
        known = self._known.get(scope)
        if known is not None and now - known[0] < self.ttl_s:
            return known[1]
        found = self.store.cache_scope_access(scope[len(SHARED) :], self.project)
        access = ("" if self.declared_only else "write") if found is None else found
        self._known[scope] = (now, access)
        return access

    def check(self, scope: str, task: str) -> str:
        """The access to ``scope``: ``write`` or ``read``.

        Raises:
            CacheScopeAccessError: the project may not use it.
        """
        access = self.access(scope)
        if not access:
            raise refusal(scope.removeprefix(SHARED), self.project, task)
        return access

    def writable(self, puts: list[CacheEntry]) -> list[CacheEntry]:
        """The entries of ``puts`` the project may write (the others are logged, dropped)."""
        kept: list[CacheEntry] = []
        for put in puts:
            if self.access(put.parts.scope) == "write":
                kept.append(put)
            else:
                log.warning(
                    "not caching %s/%s in %s: project %r may not write it",
                    put.execution_id,
                    put.node_id,
                    put.parts.scope,
                    self.project,
                )
        return kept


def look_up(
    meta: MetaStore,
    blobs: BlobStore,
    cmd: LookupCache,
    *,
    now: float,
    owner: str,
    ttl_s: float,
    reserved: set[str],
    gate: ScopeGate,
) -> CacheLooked | EngineFailed | None:
    """Carry out a cache lookup: the event it ends in, or ``None`` when another attempt
    holds the key's reservation (the node waits for its result). ``reserved``: the keys the
    drive holds; a key reserved here is added."""
    try:
        access = gate.check(cmd.parts.scope, cmd.parts.task)
    except CacheScopeAccessError as exc:
        error = ErrorInfo(kind=ErrorKind.USER, type=type(exc).__name__, message=str(exc))
        return EngineFailed(error, now, cause=cmd.cause)
    entry = meta.get_cache(cmd.key)
    if entry is not None:
        unusable = unusable_outputs(entry, blobs)  # missing or corrupt blobs
        if unusable is None:
            src = f"execution {entry.execution_id} node {entry.node_id}"
            reason = f"same version and inputs as {src}"
            return CacheLooked(cmd.node_id, entry, reason, now, cause=cmd.cause)
        if access == "write":  # a reader leaves the writers' entry for them to replace
            meta.delete_cache(key=cmd.key)
        writable = access == "write"
        return CacheLooked(cmd.node_id, None, unusable, now, cause=cmd.cause, writable=writable)
    if cmd.serialize and access == "write":
        holder = reserve(meta, cmd.key, owner, now, ttl_s, reserved)
        if holder != owner:
            return None  # another attempt computes it: wait
        reserved.add(cmd.key)
    reason = explain_miss(cmd.parts, meta.find_cache_by_task(cmd.parts.task, limit=10))
    if access != "write":
        reason += (
            f"; project {gate.project!r} may only read cache scope "
            f"{cmd.parts.scope.removeprefix(SHARED)!r}: the result will not be cached"
        )
    return CacheLooked(cmd.node_id, None, reason, now, cause=cmd.cause, writable=access == "write")
