"""What the SQL store's mixins use of their host, declared once.

:class:`~airfoil.store.sql.SqlMetaStore` is made of mixins (the cache, cache scopes, the
control inbox, schedules, scheduling, task history, observability) that run their
statements through the host's connection, retries and compiled SQL. :class:`SqlHost` names
those members for the type checker and the reader; the host provides every one of them.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from airfoil.store.sql._sql_text import SqlText, mark

__all__ = ["SqlHost"]

_T = TypeVar("_T")


class SqlHost:
    """The members of the host :class:`~airfoil.store.sql.SqlMetaStore` its mixins call."""

    #: ``"sqlite"`` or ``"postgresql"``.
    dialect: str
    #: The compiled statements of the dialect.
    _s: SqlText
    #: How a write of one idempotent statement begins (``_transaction``'s ``begin``).
    _one_statement: str | None

    def _read(self, sql: str, params: dict[str, Any], action: str) -> list[Any]:
        raise NotImplementedError  # pragma: no cover - SqlMetaStore's

    def _transaction(
        self,
        action: str,
        body: Callable[[Any], _T],
        *,
        idempotent: bool = False,
        begin: str | None = None,
        settle: bool = False,
    ) -> _T:
        raise NotImplementedError  # pragma: no cover - SqlMetaStore's

    def _mark(self, name: str) -> str:
        """The placeholder of the named parameter ``name`` in this store's dialect."""
        return mark(self.dialect, name)
