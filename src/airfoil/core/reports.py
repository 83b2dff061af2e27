"""Where an attempt's report lives and how it is found again and read (issue 15).

A task that reports (``af.current_context().report``, :mod:`airfoil.sdk._report`) has its
report written, as one self-contained HTML document, to the blob store under
:func:`report_key` of its attempt when the attempt ends. The key is the pointer: nothing is
written, and nothing costs, for a task that does not report. Readers (``airfoil report``,
the server's report route, the console's Report tab) take the newest attempt of the node
that left one (:func:`find_report`).

Invariants:

- a page (:func:`latest_report`: the console's tab, ``Client.report()``) holds at most
  ``max_bytes`` (:data:`MAX_REPORT_BYTES`) of a report in memory: a bigger one is a
  :class:`~airfoil.core.errors.TooLargeError` naming its size and how to get it whole,
  found from the blob's size before anything is read where the store can tell it;
- a report written to a file (``airfoil report``, locally or ``--remote``) is copied in
  pieces of :data:`CHUNK_BYTES` (:func:`copy_report`), whatever its size, and its damage
  (bytes that are not UTF-8, written as U+FFFD) is named as a page names it.
"""

from __future__ import annotations

import codecs
from collections.abc import Callable, Iterable, Iterator
from typing import BinaryIO, Protocol

from airfoil.core.errors import NotFoundError, TooLargeError

__all__ = [
    "CHUNK_BYTES",
    "MAX_REPORT_BYTES",
    "REPORT_DAMAGE_HEADER",
    "NodeReport",
    "copy_report",
    "find_report",
    "latest_report",
    "read_chunks",
    "report_key",
]

#: The response header in which the server's report route names a damaged report's damage
#: (:attr:`NodeReport.damage`, percent-encoded); absent for a report read whole.
REPORT_DAMAGE_HEADER = "X-Airfoil-Damage"

#: The most of a report a page holds (a report with plotly figures weighs several MB).
MAX_REPORT_BYTES = 32 * 1024 * 1024

#: The pieces a report is copied in.
CHUNK_BYTES = 1024 * 1024


def report_key(execution_id: str, node_id: str, attempt: int) -> str:
    """The blob key of the report of one attempt."""
    return f"reports/{execution_id}/{node_id}/{attempt}/report.html"


class _Blobs(Protocol):
    def uri(self, key: str) -> str: ...
    def exists(self, uri: str) -> bool: ...
    def size(self, uri: str) -> int | None: ...
    def open_read(self, uri: str) -> BinaryIO: ...


class NodeReport:
    """The report of one attempt: its attempt number and HTML document, and ``damage``: why
    part of it could not be read (bytes that are not UTF-8, shown as U+FFFD), or None."""

    __slots__ = ("attempt", "damage", "html")

    def __init__(self, attempt: int, html: str, damage: str | None = None) -> None:
        self.attempt = attempt
        self.html = html
        self.damage = damage


def find_report(blobs: _Blobs, execution_id: str, node_id: str, attempts: int) -> tuple[int, str]:
    """The attempt and blob URI of the newest of a node's ``attempts`` that wrote a report.

    Raises:
        NotFoundError: no attempt of the node reported (names the fix).
    """
    for attempt in range(attempts, 0, -1):
        uri = blobs.uri(report_key(execution_id, node_id, attempt))
        if blobs.exists(uri):
            return attempt, uri
    raise NotFoundError(
        f"node {node_id} of execution {execution_id} has no report: its task did not call "
        "af.current_context().report (or it has not run yet)"
    )


def latest_report(
    blobs: _Blobs,
    execution_id: str,
    node_id: str,
    attempts: int,
    *,
    max_bytes: int = MAX_REPORT_BYTES,
) -> NodeReport:
    """The report of the newest of a node's ``attempts`` that wrote one, as a page.

    Raises:
        NotFoundError: no attempt of the node reported (names the fix).
        TooLargeError: the report is over ``max_bytes`` (names how to write it whole).
    """
    attempt, uri = find_report(blobs, execution_id, node_id, attempts)

    def too_large(size: int | None) -> TooLargeError:
        weighs = f"{size / 2**20:.1f} MiB" if size is not None else "bigger"
        return TooLargeError(
            f"the report of node {node_id} of execution {execution_id} (attempt {attempt}) "
            f"is {weighs}, past the {max_bytes / 2**20:g} MiB a page shows: write it to a "
            f"file with `airfoil report {execution_id} {node_id}` (with --remote on a "
            "server), which copies it whole in pieces (the API: ?whole=true)"
        )

    size = blobs.size(uri)
    if size is not None and size > max_bytes:
        raise too_large(size)
    with blobs.open_read(uri) as fh:
        data = b"".join(read_chunks(fh, limit=max_bytes + 1))
    if len(data) > max_bytes:  # a store that cannot tell sizes: found by reading, bounded
        raise too_large(None)
    return _decoded(attempt, data)


def read_chunks(fh: BinaryIO, *, limit: int | None = None) -> Iterator[bytes]:
    """The bytes of an open blob in pieces of at most :data:`CHUNK_BYTES` (at most ``limit``
    bytes in all when given)."""
    left = limit
    while left is None or left > 0:
        piece = fh.read(CHUNK_BYTES if left is None else min(CHUNK_BYTES, left))
        if not piece:
            return
        if left is not None:
            left -= len(piece)
        yield piece


def copy_report(chunks: Iterable[bytes], write: Callable[[bytes], object]) -> str | None:
    """Write a report's bytes, piece by piece, as UTF-8: as stored where they are UTF-8,
    bytes that are not as U+FFFD. Returns the damage as a page names it
    (:attr:`NodeReport.damage`, the byte offset counted from the start), or None."""
    strict = codecs.getincrementaldecoder("utf-8")("strict")
    lenient: codecs.IncrementalDecoder | None = None
    damage: str | None = None
    fed = 0  # bytes given to the strict decoder so far
    for piece in _with_end(chunks):
        final = piece is None
        data = b"" if piece is None else piece
        if lenient is None:
            pending = strict.getstate()[0]  # an unfinished character held from before
            try:
                text = strict.decode(data, final=final)
            except UnicodeDecodeError as exc:
                damage = _damage(exc.reason, fed - len(pending) + exc.start)
                lenient = codecs.getincrementaldecoder("utf-8")("replace")
                text = lenient.decode(pending + data, final=final)
            fed += len(data)
        else:
            text = lenient.decode(data, final=final)
        if text:
            write(text.encode("utf-8"))
    return damage


def _with_end(chunks: Iterable[bytes]) -> Iterator[bytes | None]:
    yield from chunks
    yield None  # the end: an unfinished character there is damage too


def _damage(reason: str, at: int) -> str:
    return f"{reason} at byte {at} (bytes that are not UTF-8 shown as U+FFFD)"


def _decoded(attempt: int, data: bytes) -> NodeReport:
    """The report stored as ``data``: what of it is UTF-8, the rest named as its damage."""
    try:
        return NodeReport(attempt, data.decode("utf-8"))
    except UnicodeDecodeError as exc:
        damage = _damage(exc.reason, exc.start)
        return NodeReport(attempt, data.decode("utf-8", errors="replace"), damage)
