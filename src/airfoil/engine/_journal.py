"""The drive's journal: state changes made durable one by one, at the cost of a file append.

Every finished map item must be durable before the next item starts, and every chained
task's end before its successor starts (a crash then re-runs no finished work), but a store
commit per item or task costs several times what running a trivial one does. So a driver
appends what a batch writes to a per-execution journal file (one ``os.write`` of JSON lines:
it survives the process being killed, as a SQLite commit at ``synchronous=NORMAL`` does) and
commits the journal to the store in groups (see ``_group_commit``). Two kinds of line:

- an attempt record (a batch that holds nothing but map items: one line per item);
- ``{"batch": ...}``: a whole batch of node, attempt and event records (a chained task's
  end and its successor's start, say). Batches that change the execution record or put
  cache entries are never journaled: they go to the store, with the journal before them.

Invariants:

- A line is written before what it records is acted on (as a store commit would be).
- The journal only ever holds records newer than the store's, and all of it is committed
  in one store transaction: it is emptied after every store commit that carried its records,
  and read back (and committed) when a drive starts. A kill between that commit and the
  emptying leaves a journal the store already holds whole: its first event is stored, and
  it is then dropped, never replayed over newer records (:func:`replay_batch`).
- A torn last line (a kill mid-write) is ignored: what it recorded had not been acted on,
  so it is at worst run again, never lost.
"""

from __future__ import annotations

import contextlib
import functools
import os
from pathlib import Path
from typing import TYPE_CHECKING

import msgspec

from airfoil.core.phases import AttemptPhase
from airfoil.core.records import AttemptRecord, EventRecord, NodeRecord, StoreBatch

if TYPE_CHECKING:
    from airfoil.store.base import MetaStore

__all__ = ["ItemJournal", "Pending", "merge_journal", "replay_batch"]

#: what one line of the journal is: a map item's attempt, or a whole journaled batch
JournalLine = AttemptRecord | StoreBatch


class _BatchLine(msgspec.Struct):
    """A journaled batch, as one line: ``{"batch": {...}}`` (an attempt line never starts
    with that key, so the two kinds of line are told apart by their first bytes)."""

    batch: StoreBatch


_BATCH_PREFIX = b'{"batch":'
_encoder = msgspec.json.Encoder()
_encode_lines = _encoder.encode_lines


@functools.cache
def _decoders() -> tuple[msgspec.json.Decoder[AttemptRecord], msgspec.json.Decoder[_BatchLine]]:
    """The journal's decoders, built when a journal is first read (after a crash: never on a
    run's path; building them cost every ``airfoil run`` ~3 ms of import, issue 17's W5)."""
    return msgspec.json.Decoder(AttemptRecord), msgspec.json.Decoder(_BatchLine)


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
        self._write(execution_id, _encode_lines(attempts))  # one JSON line each, in one write

    def append_batch(self, execution_id: str, batch: StoreBatch) -> None:
        """Record a whole batch (nodes, attempts, events) durably before acting on it."""
        self._write(execution_id, _encode_lines((_BatchLine(batch),)))

    def _write(self, execution_id: str, data: bytes) -> None:
        fd = self._fds.get(execution_id)
        if fd is None:
            self.directory.mkdir(parents=True, exist_ok=True)
            fd = os.open(self._path(execution_id), os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
            self._fds[execution_id] = fd
            if self.sync:
                _fsync_dir(self.directory)
        os.write(fd, data)
        if self.sync:
            os.fsync(fd)

    def read(self, execution_id: str) -> list[JournalLine]:
        """The lines journaled for an execution, oldest first (a torn line is skipped)."""
        try:
            data = self._path(execution_id).read_bytes()
        except FileNotFoundError:
            return []
        out: list[JournalLine] = []
        attempts, batches = _decoders()
        for line in data.split(b"\n"):
            if line:
                with contextlib.suppress(msgspec.DecodeError, msgspec.ValidationError):
                    if line.startswith(_BATCH_PREFIX):
                        out.append(batches.decode(line).batch)
                    else:
                        out.append(attempts.decode(line))
        return out

    def clear(self, execution_id: str) -> None:
        """Forget an execution's journal (its records are in the store now)."""
        fd = self._fds.pop(execution_id, None)
        if fd is not None:
            os.close(fd)
        with contextlib.suppress(FileNotFoundError):
            self._path(execution_id).unlink()


class Pending:
    """What was journaled since the last store commit, folded: the newest record of each
    node and attempt, and every event in order. A store commit writes it as one batch."""

    __slots__ = ("attempts", "events", "nodes")

    def __init__(self) -> None:
        self.nodes: dict[str, NodeRecord] = {}
        self.attempts: dict[tuple[str, int], AttemptRecord] = {}
        self.events: list[EventRecord] = []

    def __len__(self) -> int:
        return len(self.nodes) + len(self.attempts) + len(self.events)

    def add_attempts(self, attempts: list[AttemptRecord]) -> None:
        mine = self.attempts
        for a in attempts:
            mine[(a.node_id, a.attempt)] = a

    def add(self, batch: StoreBatch) -> None:
        nodes = self.nodes
        for n in batch.nodes:
            nodes[n.node_id] = n
        if batch.attempts:
            self.add_attempts(batch.attempts)
        self.events.extend(batch.events)

    def add_line(self, line: JournalLine) -> None:
        if isinstance(line, StoreBatch):
            self.add(line)
        else:
            self.attempts[(line.node_id, line.attempt)] = line

    def fold_into(self, batch: StoreBatch) -> StoreBatch:
        """``batch`` preceded by everything pending (its own records are the newer)."""
        if self.nodes:
            nodes = self.nodes
            for n in batch.nodes:
                nodes[n.node_id] = n
            batch.nodes = list(nodes.values())
        if self.attempts:
            self.add_attempts(batch.attempts)
            batch.attempts = list(self.attempts.values())
        if self.events:
            batch.events = self.events + batch.events
        return batch


def replay_batch(meta: MetaStore, execution_id: str, lines: list[JournalLine]) -> StoreBatch | None:
    """What of an interrupted drive's journal the store lacks, as one batch (None: nothing).

    A journal is committed whole in one transaction, so if its first event is stored, all
    of it is (the kill came between that commit and the journal's emptying): nothing is
    replayed, lest its older node records overwrite newer ones written in the same commit.
    Map items' attempt lines are merged record by record (:func:`merge_journal`)."""
    pending = Pending()
    for line in lines:
        pending.add_line(line)
    if pending.events:
        first = pending.events[0]
        stored = meta.get_events(execution_id, after_seq=first.seq - 1)
        if stored and stored[0].seq == first.seq:
            return None
    attempts = (
        merge_journal(meta.get_attempts(execution_id), list(pending.attempts.values()))
        if pending.attempts
        else []
    )
    batch = StoreBatch(nodes=list(pending.nodes.values()), attempts=attempts, events=pending.events)
    return batch if batch else None


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
