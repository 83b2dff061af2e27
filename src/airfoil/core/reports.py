"""Where an attempt's report lives and how it is found again (issue 15).

A task that reports (``af.current_context().report``, :mod:`airfoil.sdk._report`) has its
report written, as one self-contained HTML document, to the blob store under
:func:`report_key` of its attempt when the attempt ends. The key is the pointer: nothing is
written, and nothing costs, for a task that does not report. Readers (``airfoil report``,
the server's report route, the console's Report tab) take the newest attempt of the node
that left one (:func:`latest_report`).
"""

from __future__ import annotations

from typing import Protocol

from airfoil.core.errors import NotFoundError

__all__ = ["REPORT_DAMAGE_HEADER", "NodeReport", "latest_report", "report_key"]

#: The response header in which the server's report route names a damaged report's damage
#: (:attr:`NodeReport.damage`, percent-encoded); absent for a report read whole.
REPORT_DAMAGE_HEADER = "X-Airfoil-Damage"


def report_key(execution_id: str, node_id: str, attempt: int) -> str:
    """The blob key of the report of one attempt."""
    return f"reports/{execution_id}/{node_id}/{attempt}/report.html"


class _Blobs(Protocol):
    def uri(self, key: str) -> str: ...
    def exists(self, uri: str) -> bool: ...
    def get_bytes(self, uri: str) -> bytes: ...


class NodeReport:
    """The report of one attempt: its attempt number and HTML document, and ``damage``: why
    part of it could not be read (bytes that are not UTF-8, shown as U+FFFD), or None."""

    __slots__ = ("attempt", "damage", "html")

    def __init__(self, attempt: int, html: str, damage: str | None = None) -> None:
        self.attempt = attempt
        self.html = html
        self.damage = damage


def latest_report(blobs: _Blobs, execution_id: str, node_id: str, attempts: int) -> NodeReport:
    """The report of the newest of a node's ``attempts`` that wrote one.

    Raises:
        NotFoundError: no attempt of the node reported (names the fix).
    """
    for attempt in range(attempts, 0, -1):
        uri = blobs.uri(report_key(execution_id, node_id, attempt))
        if blobs.exists(uri):
            return _decoded(attempt, blobs.get_bytes(uri))
    raise NotFoundError(
        f"node {node_id} of execution {execution_id} has no report: its task did not call "
        "af.current_context().report (or it has not run yet)"
    )


def _decoded(attempt: int, data: bytes) -> NodeReport:
    """The report stored as ``data``: what of it is UTF-8, the rest named as its damage."""
    try:
        return NodeReport(attempt, data.decode("utf-8"))
    except UnicodeDecodeError as exc:
        damage = f"{exc.reason} at byte {exc.start} (bytes that are not UTF-8 shown as U+FFFD)"
        return NodeReport(attempt, data.decode("utf-8", errors="replace"), damage)
