"""The OpenTelemetry ids of runs, derived from what they trace (issue 15): an execution's
trace id from its id, an attempt's span id from (execution, node, attempt).

Derived, not random, so the API's attempt record can name them without storing them, and
an execution resumed by another process continues the same trace.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable

__all__ = ["attempt_span_hex", "attempt_span_id", "execution_trace_id", "traceparent"]


def _digest(*parts: object) -> bytes:
    return hashlib.sha256("\x1f".join(str(p) for p in parts).encode()).digest()


def execution_trace_id(execution_id: str) -> int:
    """The 128-bit trace id of an execution (never 0, which W3C reserves)."""
    return int.from_bytes(_digest("trace", execution_id)[:16], "big") or 1


def attempt_span_id(execution_id: str, node_id: str, attempt: int) -> int:
    """The 64-bit span id of one attempt (never 0)."""
    # _digest("attempt", execution_id, node_id, attempt), formatted in one step: an
    # execution's detail derives one per attempt shown
    text = f"attempt\x1f{execution_id}\x1f{node_id}\x1f{attempt}"
    return int.from_bytes(hashlib.sha256(text.encode()).digest()[:8], "big") or 1


def attempt_span_hex(execution_id: str) -> Callable[[str, int], str]:
    """``(node_id, attempt) -> f"{attempt_span_id(execution_id, node_id, attempt):016x}"``
    for the attempts of one execution (an execution's detail shows ~100-1,000 of them): the
    hash's state after the execution's part is computed once and copied for each attempt,
    and the hex is the digest's (the same ids)."""
    shared = hashlib.sha256(f"attempt\x1f{execution_id}\x1f".encode())

    def span(node_id: str, attempt: int) -> str:
        h = shared.copy()
        h.update(f"{node_id}\x1f{attempt}".encode())
        found = h.digest()[:8].hex()
        return found if found != "0000000000000000" else "0000000000000001"  # never 0

    return span


def traceparent(execution_id: str, node_id: str, attempt: int) -> str:
    """The W3C ``traceparent`` of an attempt's span (sampled)."""
    trace = execution_trace_id(execution_id)
    span = attempt_span_id(execution_id, node_id, attempt)
    return f"00-{trace:032x}-{span:016x}-01"
