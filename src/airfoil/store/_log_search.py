"""Searching task logs across runs (``airfoil logs --search``, ``GET .../logs/search``).

Bounded, and says so: the logs of the attempts of at most ``runs`` of the project's newest
executions (created at or after ``since``) are read, newest first, each line compared
case-insensitively with the text (only lines of entries at ``level`` or above, when
given); the search stops at ``limit`` matching lines. There is
no index: each search reads those logs from the blob store (a log over
:data:`MAX_LOG_BYTES` is skipped and counted), so its cost grows with ``runs`` and the
size of their logs.

One damaged part never fails the search: an execution or attempt record that no longer
decodes, or a log that cannot be read (not a file any more, say), is passed over and named
in ``LogSearch.unreadable``; the rest is searched.
"""

from __future__ import annotations

import re

import msgspec

from airfoil.core.blobs import BlobStore
from airfoil.core.errors import (
    InvalidInputError,
    NotFoundError,
    UnreadableRecordError,
    unreadable_why,
)
from airfoil.core.log_lines import LEVEL_RANKS, entries, level_rank
from airfoil.store.base import MetaStore

__all__ = [
    "MAX_LINE_CHARS",
    "MAX_LOG_BYTES",
    "MAX_RUNS",
    "LeftOut",
    "LogMatch",
    "LogSearch",
    "search_logs",
]

#: The most executions one search may read, and matches it may return.
MAX_RUNS = 1000
#: A log larger than this is not read (it is counted in ``LogSearch.skipped``).
MAX_LOG_BYTES = 8 * 1024 * 1024


class LogMatch(msgspec.Struct, frozen=True):
    """A line that matched: where it is, its entry's time and level."""

    execution_id: str
    node_id: str
    attempt: int
    workflow: str
    at: str
    level: str
    line: str
    #: the execution's name in its project (its id when none was chosen) and its domain
    #: (the name is unique within the project and domain only)
    name: str = ""
    domain: str = ""


class LeftOut(msgspec.Struct, frozen=True):
    """A part the search could not read and passed over: ``kind`` ``execution``,
    ``attempt`` (ids as :class:`~airfoil.core.errors.UnreadableRecordError` names them) or
    ``log`` (``<execution>/<node>#<attempt>``), what failed (``reason``) and ``why``, in
    words (:func:`~airfoil.core.errors.unreadable_why`)."""

    kind: str
    id: str
    reason: str
    why: str


class LogSearch(msgspec.Struct, frozen=True):
    """What a search found and how much it read.

    Attributes:
        matches: the matching lines, newest execution first, then by node and attempt.
        runs: executions whose logs were read.
        logs: logs read.
        skipped: logs over :data:`MAX_LOG_BYTES`, not read.
        complete: False when ``runs`` or ``limit`` stopped the search before the window's
            end (older executions in the window were not read).
        unreadable: the damaged parts passed over (each once).
    """

    matches: list[LogMatch]
    runs: int
    logs: int
    skipped: int
    complete: bool
    unreadable: list[LeftOut] = []


def search_logs(
    meta: MetaStore,
    blobs: BlobStore,
    project: str,
    text: str,
    *,
    since: float | None = None,
    runs: int = 200,
    limit: int = 100,
    level: str | None = None,
) -> LogSearch:
    """Lines of the project's task logs that contain ``text`` (see the module docstring).

    Raises:
        InvalidInputError: an empty or over-long ``text``, ``runs`` or ``limit`` out of
            1..:data:`MAX_RUNS`, an unknown ``level``.
    """
    needle = text.strip().lower()
    if not needle or len(text) > 500:
        raise InvalidInputError("--search needs a text of 1 to 500 characters to look for")
    for name, value in (("runs", runs), ("limit", limit)):
        if not 1 <= value <= MAX_RUNS:
            raise InvalidInputError(f"invalid {name} {value}: use 1 to {MAX_RUNS}")
    try:
        least = level_rank(level) if level else 0
    except ValueError as e:
        raise InvalidInputError(str(e)) from None
    found: list[LogMatch] = []
    read = logs = skipped = 0
    bad: dict[tuple[str, str], LeftOut] = {}

    def left_out(exc: UnreadableRecordError) -> None:
        left = LeftOut(exc.kind, exc.record_id, exc.reason, exc.why)
        bad.setdefault((exc.kind, exc.record_id), left)

    # one more than asked: whether older executions were left unread
    executions = meta.list_executions(project=project, limit=runs + 1, on_unreadable=left_out)
    complete = True
    for record in executions:
        if since is not None and record.created_at < since:
            break
        if read == runs:
            complete = False
            break
        read += 1
        tries = meta.get_attempts(record.id, on_unreadable=left_out)
        for a in sorted(tries, key=lambda a: (a.node_id, a.attempt)):
            if not a.log_uri:
                continue
            try:
                # its size first: a log of gigabytes is left out unread, not read then left out
                size = blobs.size(a.log_uri)
                data = b"" if size is not None and size > MAX_LOG_BYTES else None
                if data is None:
                    data = blobs.get_bytes(a.log_uri)
            except NotFoundError:
                continue
            except OSError as exc:  # there, but not readable: the other logs are
                where = f"{record.id}/{a.node_id}#{a.attempt}"
                damage = LeftOut("log", where, f"{exc} ({a.log_uri})", unreadable_why("log"))
                bad.setdefault(("log", where), damage)
                continue
            if (size is not None and size > MAX_LOG_BYTES) or len(data) > MAX_LOG_BYTES:
                skipped += 1
                continue
            logs += 1
            for entry in entries(data.decode("utf-8", errors="replace")):
                if LEVEL_RANKS[entry.level] < least:
                    continue
                for line in entry.text.splitlines():
                    if needle in line.lower():
                        found.append(
                            LogMatch(
                                execution_id=record.id,
                                name=record.display_name,
                                domain=record.domain,
                                node_id=a.node_id,
                                attempt=a.attempt,
                                workflow=record.workflow,
                                at=entry.at,
                                level=entry.level,
                                line=_around(line, needle),
                            )
                        )
                        if len(found) == limit:
                            return LogSearch(found, read, logs, skipped, False, list(bad.values()))
    return LogSearch(found, read, logs, skipped, complete, list(bad.values()))


#: A matching line longer than this is returned cut around its first match.
MAX_LINE_CHARS = 2000


def _around(line: str, needle: str) -> str:
    """``line``, or where it is longer than :data:`MAX_LINE_CHARS` the part around its first
    match of ``needle`` (lower case) with ``…`` where it was cut: a line of megabytes (a JSON
    dump printed on one line) matching in many runs made a response of gigabytes."""
    if len(line) <= MAX_LINE_CHARS:
        return line
    # where in ``line`` itself: ``line.lower()`` can be longer ("İ" lowers to two characters)
    found = re.search(re.escape(needle), line, re.IGNORECASE)
    at, length = (found.start(), found.end() - found.start()) if found else (0, len(needle))
    room = max(0, MAX_LINE_CHARS - length) // 2
    start = max(0, min(at - room, len(line) - MAX_LINE_CHARS))
    end = min(len(line), start + max(MAX_LINE_CHARS, length))
    return ("…" if start else "") + line[start:end] + ("…" if end < len(line) else "")
