"""The line format of attempt logs: every entry starts with a UTC timestamp and a level, so a
log can be filtered by level and read back as entries.

An entry is ``2026-12-04T12:04:55.123Z INFO     text``: the time the line was written (or
the record was made), a level padded to 8 characters, then the text. Levels are those of
Python ``logging`` (``DEBUG`` ... ``CRITICAL``) for records, ``OUT`` for a line printed to
stdout (ranked as INFO) and ``ERR`` for one written to stderr (ranked as WARNING); the
traceback of a failed attempt is one ``ERROR`` entry. A line that does not start like this
(a multi-line record's continuation, output from a C extension written at the end, logs
written before this format) belongs to the entry before it, or stands alone as ``OUT``.

Invariants: :func:`entries` of :func:`entry_line` output gives back the same level, time and
text; filtering never drops a line of a kept entry.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator

import msgspec

__all__ = [
    "LEVEL_RANKS",
    "LevelFilter",
    "LogEntry",
    "entries",
    "entry_line",
    "filter_level",
    "level_rank",
    "printed",
    "split_head",
    "stamp",
    "without_traceback",
]

#: The rank of each level (``OUT`` as INFO, ``ERR`` as WARNING).
LEVEL_RANKS = {
    "DEBUG": 10,
    "OUT": 20,
    "INFO": 20,
    "ERR": 30,
    "WARNING": 30,
    "ERROR": 40,
    "CRITICAL": 50,
}
_HEAD = re.compile(r"^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z) ([A-Z]{3,8}) ?")


def stamp(at: float) -> str:
    """``at`` (epoch seconds) as the UTC timestamp that starts an entry."""
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(at)) + f".{int(at % 1 * 1000):03d}Z"


def entry_line(at: float, level: str, text: str) -> str:
    """The start of an entry (``text`` may hold more lines; no newline is added)."""
    return f"{stamp(at)} {level:<8} {text}"


class LogEntry(msgspec.Struct, frozen=True):
    """One entry of a log: its time (empty when the line had none), level and lines."""

    at: str
    level: str
    text: str


def split_head(line: str) -> tuple[str, str, str] | None:
    """``(time, level, text)`` of a line that starts an entry, or None for a continuation
    line. The level is padded to 8 characters and followed by one space: the text starts after
    them and keeps its own leading spaces."""
    m = _HEAD.match(line)
    if m is None or m.group(2) not in LEVEL_RANKS:
        return None
    start = m.start(2) + max(len(m.group(2)), 8) + 1
    return m.group(1), m.group(2), line[start:]


def entries(log: str) -> Iterator[LogEntry]:
    """The entries of a log, in order (see the module docstring)."""
    at, level, lines = "", "", list[str]()
    for line in log.splitlines():
        head = split_head(line)
        if head is not None:
            if lines or level:
                yield LogEntry(at, level or "OUT", "\n".join(lines))
            at, level, text = head
            lines = [text]
        else:
            lines.append(line)
    if lines or level:
        yield LogEntry(at, level or "OUT", "\n".join(lines))


def printed(log: str) -> str:
    """What was printed to stdout and stderr, without times and levels (and without logging
    records or a failure's traceback entry): one line per line printed."""
    return "".join(e.text + "\n" for e in entries(log) if e.level in ("OUT", "ERR"))


def without_traceback(log: str, traceback: str) -> str:
    """``log`` without its last entry if that is the failure's ``traceback`` (written as one
    ``ERROR`` entry when an attempt fails; a log of the older format just ends with it)."""
    body = traceback.rstrip("\n")
    if not body:
        return log
    at = log.rfind(f"ERROR    {body}")
    if at >= 0 and not log[at + 9 + len(body) :].strip():
        start = log.rfind("\n", 0, at) + 1
        if split_head(log[start : at + 9]) is not None:  # the entry's head, on its line
            return log[:start]
    cut = len(log) - len(traceback)
    if log.endswith(traceback) and (cut == 0 or log[cut - 1] == "\n"):
        return log[:cut]
    return log


def level_rank(level: str) -> int:
    """The rank of a level name (``warning`` or ``WARNING``; ``OUT`` and ``ERR`` too).

    Raises:
        ValueError: an unknown level, naming the known ones.
    """
    rank = LEVEL_RANKS.get(level.upper())
    if rank is None:
        raise ValueError(
            f"unknown log level {level!r}: use one of DEBUG, INFO, WARNING, ERROR, CRITICAL"
        )
    return rank


class LevelFilter:
    """Keeps the lines of entries at a level or above from a log read in pieces (a followed
    log): feed it text as it comes; a line is judged once it is complete.

    Raises:
        ValueError: an unknown level (from the constructor).
    """

    def __init__(self, level: str) -> None:
        self.least = level_rank(level)
        self._rank = LEVEL_RANKS["OUT"]  # the entry being read (lines before any head: OUT)
        self._partial = ""

    def feed(self, text: str) -> str:
        """The kept complete lines of what has come so far (newline-terminated)."""
        text = self._partial + text
        complete, _, self._partial = text.rpartition("\n")
        if not complete and not text.endswith("\n"):
            return ""
        out = []
        for line in complete.split("\n"):
            m = _HEAD.match(line)
            if m is not None and m.group(2) in LEVEL_RANKS:
                self._rank = LEVEL_RANKS[m.group(2)]
            if self._rank >= self.least:
                out.append(line + "\n")
        return "".join(out)

    def end(self) -> str:
        """The last line, if it had no newline and is kept."""
        rest, self._partial = self._partial, ""
        return self.feed(rest + "\n") if rest else ""


def filter_level(log: str, level: str) -> str:
    """The lines of ``log``'s entries at ``level`` or above, as they were written."""
    f = LevelFilter(level)
    return f.feed(log) + f.end()
