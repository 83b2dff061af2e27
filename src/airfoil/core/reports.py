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

__all__ = ["NodeReport", "latest_report", "report_key"]


def report_key(execution_id: str, node_id: str, attempt: int) -> str:
    """The blob key of the report of one attempt."""
    return f"reports/{execution_id}/{node_id}/{attempt}/report.html"


class _Blobs(Protocol):
    def uri(self, key: str) -> str: ...
    def exists(self, uri: str) -> bool: ...
    def get_bytes(self, uri: str) -> bytes: ...


class NodeReport:
    """The report of one attempt: its attempt number and HTML document."""

    __slots__ = ("attempt", "html")

    def __init__(self, attempt: int, html: str) -> None:
        self.attempt = attempt
        self.html = html


def latest_report(blobs: _Blobs, execution_id: str, node_id: str, attempts: int) -> NodeReport:
    """The report of the newest of a node's ``attempts`` that wrote one.

    Raises:
        NotFoundError: no attempt of the node reported (names the fix).
    """
    for attempt in range(attempts, 0, -1):
        uri = blobs.uri(report_key(execution_id, node_id, attempt))
        if blobs.exists(uri):
            return NodeReport(attempt, blobs.get_bytes(uri).decode("utf-8"))
    raise NotFoundError(
        f"node {node_id} of execution {execution_id} has no report: its task did not call "
        "af.current_context().report (or it has not run yet)"
    )
