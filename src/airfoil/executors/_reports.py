"""Results an executor writes itself, for attempts whose worker could not report them (a
timeout, a lost worker): the error, with a note of why appended to the attempt's log."""

from __future__ import annotations

import time
from typing import Any

from airfoil.core.phases import ErrorKind
from airfoil.core.records import ErrorInfo
from airfoil.executors.base import AttemptRequest, AttemptResult, ended_result

__all__ = ["UnreportedAttempts", "first_line", "unschedulable"]


class UnreportedAttempts:
    """Writes the results of attempts their workers did not report.

    Args:
        blob_url: the blob store of requests that name none.
    """

    def __init__(self, blob_url: str) -> None:
        self.blob_url = blob_url
        self._stores: dict[str, Any] = {}

    def result(
        self, request: AttemptRequest, error: ErrorInfo, *, started: float, worker: str
    ) -> AttemptResult:
        """The attempt's result with ``error``, after noting it in the attempt's log (best
        effort: a log that cannot be written never hides the error)."""
        log_uri = ""
        if request.log_key:
            try:
                url = request.blob_url or self.blob_url
                blobs = self._stores.get(url)
                if blobs is None:
                    from airfoil.store.blob import open_blob_store

                    blobs = self._stores[url] = open_blob_store(url)
                log_uri = blobs.append_text(
                    request.log_key, f"[airfoil] {error.type}: {error.message}\n"
                )
            except Exception:  # logs are best effort
                log_uri = ""
        return ended_result(request, started=started, worker=worker, error=error, log_uri=log_uri)


def unschedulable(request: AttemptRequest, reason: str) -> AttemptResult:
    """The result of an attempt no node of the cluster could ever start (a user error)."""
    now = time.time()
    return AttemptResult(
        execution_id=request.execution_id,
        node_id=request.node_id,
        attempt=request.attempt,
        started_at=now,
        ended_at=now,
        error=ErrorInfo(kind=ErrorKind.USER, type="UnschedulableTaskError", message=reason),
        worker="ray",
    )


def first_line(text: str) -> str:
    """The first non-blank line of ``text`` (an exception's summary)."""
    lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
    return lines[0] if lines else "no reason given"
