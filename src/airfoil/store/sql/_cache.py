"""The SQL cache entries and their reservations, mixed into
:class:`~airfoil.store.sql.SqlMetaStore` (the :class:`~airfoil.store.base.MetaStore` cache
methods): one row per cache key in ``cache``, the entry as msgspec JSON; a reservation
(``cache_serialize``) is the row's holder and expiry, taken by an upsert.
"""

from __future__ import annotations

from typing import Any

from airfoil.core.lazy_json import LazyDecoder
from airfoil.core.records import CacheEntry
from airfoil.store.base import check_page
from airfoil.store.sql._host import SqlHost

__all__ = ["SqlCacheStore"]

_CACHE = LazyDecoder(CacheEntry)


class SqlCacheStore(SqlHost):
    """The cache of the host :class:`SqlMetaStore`."""

    def get_cache(self, key: str) -> CacheEntry | None:
        rows = self._read(self._s.get_cache, {"key": key}, "reading the cache")
        return _CACHE.decode(rows[0][0]) if rows else None

    def list_cache(self, *, task: str | None = None, limit: int = 1000) -> list[CacheEntry]:
        check_page(limit)
        if task is None:
            params: dict[str, Any] = {"limit": limit, "offset": 0}
            rows = self._read(self._s.list_cache, params, "listing the cache")
        else:
            params = {"task": task, "limit": limit, "offset": 0}
            rows = self._read(self._s.list_cache_task, params, "listing the cache")
        return [_CACHE.decode(r[0]) for r in rows]

    def find_cache_by_task(self, task: str, limit: int = 20) -> list[CacheEntry]:
        return self.list_cache(task=task, limit=limit)

    def delete_cache(self, *, key: str | None = None, task: str | None = None) -> int:
        params = {k: v for k, v in (("key", key), ("task", task)) if v is not None}
        sql = self._s.delete_cache(tuple(params))

        def delete(cur: Any) -> int:
            cur.execute(sql, params)
            return int(cur.rowcount)

        return self._transaction("deleting cache entries", delete)

    def reserve_cache(self, key: str, owner: str, now: float, ttl_s: float) -> str:
        params = {"key": key, "owner": owner, "now": now, "expires": now + ttl_s}

        def reserve(cur: Any) -> str:
            # The upsert takes the row (inserting it, or locking it even when its WHERE
            # refuses the update), so the holder read next is the holder after this call.
            cur.execute(self._s.reserve_cache, params)
            cur.execute(self._s.cache_holder, {"key": key})
            return str(cur.fetchone()[0])

        return self._transaction("reserving a cache key", reserve)

    def release_cache(self, key: str, owner: str) -> None:
        params = {"key": key, "owner": owner}
        self._transaction(
            "releasing a cache key", lambda cur: cur.execute(self._s.release_cache, params)
        )
