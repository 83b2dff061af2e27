"""The in-memory :class:`ControlInbox`, mixed into :class:`~airfoil.store.memory.MemoryMetaStore`.

Invariants: messages are kept as msgspec JSON and decoded on read; every method holds the
host store's one lock (``self._lock``).
"""

from __future__ import annotations

import threading
from typing import Any

from airfoil.core.errors import NotFoundError
from airfoil.core.lazy_json import LazyDecoder
from airfoil.core.records import encode_json
from airfoil.store._control import ControlInbox, ControlMessage

__all__ = ["MemoryControlInbox"]

_MESSAGE = LazyDecoder(ControlMessage)


class MemoryControlInbox(ControlInbox):
    """Control messages in a dict under the host store's lock."""

    _lock: threading.Lock
    _executions: dict[str, Any]

    def _inbox(self) -> dict[tuple[str, str, str], tuple[float, bytes]]:
        """The messages (created on first use); call with ``self._lock`` held."""
        rows: dict[tuple[str, str, str], tuple[float, bytes]] | None = self.__dict__.get(
            "_control_inbox"
        )
        if rows is None:
            rows = self.__dict__["_control_inbox"] = {}
        return rows

    def send_control(self, message: ControlMessage) -> bool:
        key = (message.execution_id, message.kind, message.name)
        data = encode_json(message)
        with self._lock:
            if message.execution_id not in self._executions:
                raise NotFoundError(f"execution {message.execution_id!r} does not exist")
            inbox = self._inbox()
            if key in inbox:
                return False
            inbox[key] = (message.sent_at, data)
            return True

    def control_messages(self, execution_id: str, kind: str | None = None) -> list[ControlMessage]:
        with self._lock:
            found = [
                (sent_at, k, data)
                for k, (sent_at, data) in self._inbox().items()
                if k[0] == execution_id and (kind is None or k[1] == kind)
            ]
        found.sort(key=lambda row: (row[0], row[1]))
        return [_MESSAGE.decode(data) for _, _, data in found]
