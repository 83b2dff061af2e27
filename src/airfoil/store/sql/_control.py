"""The SQL :class:`ControlInbox`, mixed into :class:`~airfoil.store.sql.SqlMetaStore`.

One row per ``(execution_id, kind, name)`` in ``control_messages`` (revision 0005), the
message as msgspec JSON in ``record``; ``INSERT ... ON CONFLICT DO NOTHING`` makes the first
message win on both SQLite and PostgreSQL. The few statements are spelled out here per
paramstyle (they are not in the precompiled set: they run rarely).
"""

from __future__ import annotations

from typing import Any

from airfoil.core.errors import NotFoundError
from airfoil.core.lazy_json import LazyDecoder
from airfoil.core.records import encode_json
from airfoil.store._control import ControlInbox, ControlMessage
from airfoil.store.sql._host import SqlHost
from airfoil.store.sql._sql_text import mark

__all__ = ["SqlControlInbox"]

_MESSAGE = LazyDecoder(ControlMessage)

_INSERT = (
    "INSERT INTO control_messages (execution_id, kind, name, sent_at, record) "
    "VALUES ({e}, {k}, {n}, {t}, {r}) ON CONFLICT DO NOTHING"
)
_SELECT = "SELECT record FROM control_messages WHERE execution_id = {e}"
_ORDER = " ORDER BY sent_at, kind, name"


def _params(dialect: str, sql: str) -> str:
    names = {"e": "eid", "k": "kind", "n": "name", "t": "sent_at", "r": "record"}
    return sql.format(**{k: mark(dialect, v) for k, v in names.items()})


class SqlControlInbox(SqlHost, ControlInbox):
    """The control inbox of the host :class:`SqlMetaStore`."""

    def send_control(self, message: ControlMessage) -> bool:
        insert = _params(self.dialect, _INSERT)
        row = {
            "eid": message.execution_id,
            "kind": message.kind,
            "name": message.name,
            "sent_at": message.sent_at,
            "record": encode_json(message).decode(),
        }

        def body(cur: Any) -> bool | None:
            cur.execute(self._s.execution_exists, {"id": message.execution_id})
            if cur.fetchone() is None:
                return None
            cur.execute(insert, row)
            return int(cur.rowcount) == 1

        sent = self._transaction("sending a control message", body)
        if sent is None:
            raise NotFoundError(f"execution {message.execution_id!r} does not exist")
        return sent

    def control_messages(self, execution_id: str, kind: str | None = None) -> list[ControlMessage]:
        sql = _SELECT + (" AND kind = {k}" if kind is not None else "") + _ORDER
        params: dict[str, Any] = {"eid": execution_id}
        if kind is not None:
            params["kind"] = kind
        rows = self._read(_params(self.dialect, sql), params, "reading control messages")
        return [_MESSAGE.decode(r[0]) for r in rows]
