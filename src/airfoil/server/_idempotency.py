"""Idempotent launches: a launch request may carry an ``Idempotency-Key`` header (a client's
retry of a POST that timed out must not launch a second execution: Stripe's and the IETF
draft's header, Prefect's ``idempotency_key``).

Invariants:

- A key belongs to a project (``executions.idempotency_key``, unique within one, revision
  0022): another project's key never matches, and nothing is learned of it.
- The same key with the same request (a digest of the domain and the request body) within
  :data:`IDEMPOTENCY_WINDOW_S` of the execution's launch is answered with that execution
  (200 and ``Idempotent-Replayed: true`` instead of 201), whatever its phase; nothing is
  launched or converted again.
- The same key with another request is a 422 ``idempotency_key_reused`` naming the key and
  the execution it launched; nothing is launched.
- Two launches with one key racing: the store's unique index lets one write; the other
  reads the winner and is answered as a retry (or refused as above).
- Past the window the key is released (the execution keeps it in its record, not the
  index) and the request launches anew.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable

from pydantic import BaseModel

from airfoil.core.errors import ConflictError, InvalidInputError
from airfoil.server import _convert as cv
from airfoil.server._deps import Deps
from airfoil.store._taken import IdempotencyKeyTaken
from airfoil.wire import ExecutionSummary

__all__ = [
    "IDEMPOTENCY_KEY_PATTERN",
    "IDEMPOTENCY_WINDOW_S",
    "IdempotencyKeyReused",
    "launch_once",
    "request_digest",
]

#: How long a key answers with its execution after the launch (as Stripe's 24 hours): long
#: past any client's retries, short enough that a key reused a day later launches again.
IDEMPOTENCY_WINDOW_S = 24 * 3600.0

#: 1 to 255 visible ASCII characters (a UUID, a job id, ``<system>:<run>``...).
IDEMPOTENCY_KEY_PATTERN = r"^[!-~]{1,255}$"


class IdempotencyKeyReused(InvalidInputError):
    """An ``Idempotency-Key`` sent again with a different launch request (422
    ``idempotency_key_reused``): the message names the key and its execution."""

    def __init__(self, key: str, execution: str) -> None:
        super().__init__(
            f"Idempotency-Key {key!r} launched execution {execution!r} with another request "
            "(entity, version, inputs, name, labels or domain differ): send a new key for a "
            "new launch, or the same request to be answered with that execution"
        )
        self.key = key


def request_digest(domain: str, req: BaseModel, target: str = "") -> str:
    """What a retry under the same key must repeat: the domain, the request (canonical) and
    what it launches when the path names it (``target``: a launch plan)."""
    body = {"domain": domain, "request": req.model_dump(mode="json"), "target": target}
    text = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode()).hexdigest()


def launch_once(
    d: Deps,
    project: str,
    key: str | None,
    launch: Callable[[tuple[str, str]], ExecutionSummary],
    request: tuple[str, BaseModel, str],
) -> tuple[ExecutionSummary, bool]:
    """The execution ``key`` launched in ``project`` (and False), else ``launch``'s, called
    with the key and the digest of ``request`` (:func:`request_digest`'s arguments) to
    store (and True); with no key, ``launch``'s.

    Raises:
        IdempotencyKeyReused: the key launched an execution with another request.
    """
    if key is None:
        return launch(("", "")), True
    digest = request_digest(*request)
    found = _replayed(d, project, key, digest)
    if found is not None:
        return found, False
    try:
        return launch((key, digest)), True
    except IdempotencyKeyTaken:  # a launch with the key won the race: answer with its run
        found = _replayed(d, project, key, digest)
        if found is None:  # released between the two reads: only past the window
            raise ConflictError(
                f"Idempotency-Key {key!r} was being released as this launch used it; send "
                "the request again"
            ) from None
        return found, False


def _replayed(d: Deps, project: str, key: str, digest: str) -> ExecutionSummary | None:
    """The summary of the execution ``key`` launched, if the key is still kept."""
    execution_id = d.meta.idempotent_launch(project, key)
    if execution_id is None:
        return None
    rec = d.meta.get_execution(execution_id)
    if d.clock.now() - rec.created_at > IDEMPOTENCY_WINDOW_S:
        d.meta.release_idempotency_key(execution_id, key)
        return None
    if rec.request_digest != digest:
        raise IdempotencyKeyReused(key, rec.display_name)
    return cv.summary_out(rec)
