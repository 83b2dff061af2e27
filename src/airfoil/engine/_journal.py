"""The item journal: map items made durable one by one, at the cost of a file append.

Every finished map item must be durable before the next item starts (a crash then re-runs
no finished item), but a store commit per item costs several times what running a trivial
item does. So a driver appends the attempt records of batches that hold nothing but map
items to a per-execution journal file (one ``os.write`` of a JSON line: it survives the
process being killed, as a SQLite commit at ``synchronous=NORMAL`` does) and commits them
to the store with the next batch that has anything else, or after enough of them.

Invariants:

- A line is written before the item it records is acted on (as a store commit would be).
- The journal only ever holds records newer than the store's: it is emptied after every
  store commit that carried its records, and read back (and committed) when a drive starts.
- A torn last line (a kill mid-write) is ignored: its item's earlier record is in the
  journal or the store, so the item is at worst run again, never lost.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

import msgspec

from airfoil.core.phases import AttemptPhase
from airfoil.core.records import AttemptRecord

__all__ = ["ItemJournal", "merge_journal"]

_encode_lines = msgspec.json.Encoder().encode_lines
_decode = msgspec.json.Decoder(AttemptRecord).decode


class ItemJournal:
    """The journal files of the executions one engine drives, in ``directory``."""

    def __init__(self, directory: str, *, sync: bool = False) -> None:
        self.directory = Path(directory)
        #: fsync each append (and a new file's directory): the ``power`` durability, where a
        #: journaled item must survive a power loss as a store commit at ``synchronous=FULL``.
        self.sync = sync
        self._fds: dict[str, int] = {}

    def _path(self, execution_id: str) -> Path:
        safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in execution_id)
        return self.directory / f"{safe}.items"

    def append(self, execution_id: str, attempts: list[AttemptRecord]) -> None:
        """Record attempts durably (against a crash of this process) before acting on them."""
        fd = self._fds.get(execution_id)
        if fd is None:
            self.directory.mkdir(parents=True, exist_ok=True)
            fd = os.open(self._path(execution_id), os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
            self._fds[execution_id] = fd
            if self.sync:
                _fsync_dir(self.directory)
        os.write(fd, _encode_lines(attempts))  # one JSON line each, in one write
        if self.sync:
            os.fsync(fd)

    def read(self, execution_id: str) -> list[AttemptRecord]:
        """The records journaled for an execution, oldest first (a torn line is skipped)."""
        try:
            data = self._path(execution_id).read_bytes()
        except FileNotFoundError:
            return []
        out: list[AttemptRecord] = []
        for line in data.split(b"\n"):
            if line:
                with contextlib.suppress(msgspec.DecodeError, msgspec.ValidationError):
                    out.append(_decode(line))
        return out

    def clear(self, execution_id: str) -> None:
        """Forget an execution's journal (its records are in the store now)."""
        fd = self._fds.pop(execution_id, None)
        if fd is not None:
            os.close(fd)
        with contextlib.suppress(FileNotFoundError):
            self._path(execution_id).unlink()


def merge_journal(
    stored: list[AttemptRecord], journaled: list[AttemptRecord]
) -> list[AttemptRecord]:
    """The journal's records that are news to the store: the newest journaled record of each
    attempt the store lacks or still has as running."""
    have = {(a.node_id, a.attempt): a for a in stored}
    newer: dict[tuple[str, int], AttemptRecord] = {}
    for att in journaled:
        key = (att.node_id, att.attempt)
        old = have.get(key)
        if old is None or old.phase == AttemptPhase.RUNNING.value:
            newer[key] = att
    return list(newer.values())


def _fsync_dir(directory: Path) -> None:
    """Make a new file's directory entry durable."""
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
