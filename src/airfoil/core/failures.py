"""Failure signatures: what makes two failed attempts "the same failure" across runs.

A signature is the hash of three parts, each made stable across runs:

- the exception type (``ValueError``, ``mymod.DataError``);
- the message, normalised: numbers, hex, ids (UUIDs, long hex or base-36 tokens) and paths
  are replaced by placeholders, so ``row 17 of /tmp/a.csv`` and ``row 4 of /data/b.csv``
  are one pattern (quoted names stay: ``KeyError: 'a'`` and ``'b'`` are two failures);
- the top user frame: the innermost frame of the traceback in the user's code (not the
  standard library, not an installed package, not Airfoil), as ``file.py:function`` without
  its line number (editing the file above it does not split the group).

Pure functions of an :class:`~airfoil.core.records.ErrorInfo`; stdlib and msgspec only.
"""

from __future__ import annotations

import functools
import hashlib
import re

import msgspec

from airfoil.core.records import ErrorInfo

__all__ = [
    "FailureGroup",
    "FailureRecord",
    "failure_record",
    "normalise_message",
    "signature_of",
    "top_user_frame",
]


#: The patterns are compiled on first use: a run whose tasks all succeed never needs them,
#: and compiling them costs every process ~4 M instructions (issue 17, W5).
@functools.cache
def _rules() -> tuple[tuple[re.Pattern[str], str], ...]:
    return (
        (
            re.compile(
                r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"
            ),
            "<id>",
        ),
        (re.compile(r"\b0x[0-9a-fA-F]+\b"), "<hex>"),
        (
            re.compile(
                r"(?:[A-Za-z]:)?(?:[\\/][\w.\-~+@]+){2,}[\\/]?|(?:\.{1,2}|~)(?:[\\/][\w.\-~+@]+)+"
            ),
            "<path>",
        ),
        (re.compile(r"\b(?=[0-9a-z]*\d)(?=[0-9a-z]*[a-z])[0-9a-z]{12,}\b"), "<id>"),
        (re.compile(r"\b[0-9a-fA-F]{8,}\b"), "<hex>"),
        (re.compile(r"[-+]?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?"), "<n>"),
        (re.compile(r"\s+"), " "),
    )


@functools.cache
def _frame() -> re.Pattern[str]:
    """A frame line of a Python traceback."""
    return re.compile(r'^\s*File "([^"]+)", line \d+, in (.+)$', re.MULTILINE)


_NOT_USER = ("site-packages", "dist-packages", "/lib/python", "/airfoil/", "<frozen")


def normalise_message(message: str, limit: int = 300) -> str:
    """``message`` with what varies between runs replaced (see the module docstring)."""
    text = message.strip().splitlines()[0] if message.strip() else ""
    for pattern, placeholder in _rules():
        text = pattern.sub(placeholder, text)
    return text.strip()[:limit]


def top_user_frame(traceback: str) -> str:
    """The innermost frame of the user's code as ``file.py:function`` ("" if none)."""
    frames = _frame().findall(traceback)
    for path, func in reversed(frames):
        norm = path.replace("\\", "/")
        if any(part in norm for part in _NOT_USER):
            continue
        return f"{norm.rsplit('/', 1)[-1]}:{func.strip()}"
    return ""


def signature_of(error_type: str, message: str, frame: str) -> str:
    """The signature of a failure from its three parts (16 hex digits)."""
    text = f"{error_type}\x00{message}\x00{frame}".encode()
    return hashlib.sha256(text).hexdigest()[:16]


class FailureRecord(msgspec.Struct, frozen=True, omit_defaults=True):
    """One failed attempt, with its signature's parts (stored when the attempt ends).

    Attributes:
        execution_id / node_id / attempt: the attempt.
        project: the execution's project.
        task / version: the task and its code version.
        at: when the attempt ended (seconds since the epoch).
        kind: ``user``, ``system`` or ``data``.
        type: the exception type.
        pattern: the normalised message.
        frame: the top user frame (``file.py:function``).
        signature: the hash of type, pattern and frame.
        message / traceback: as the attempt recorded them.
    """

    execution_id: str
    node_id: str
    attempt: int
    project: str
    task: str
    version: str
    at: float
    kind: str
    type: str
    pattern: str
    frame: str
    signature: str
    message: str = ""
    traceback: str = ""


def failure_record(
    error: ErrorInfo,
    *,
    execution_id: str,
    node_id: str,
    attempt: int,
    project: str,
    task: str,
    version: str,
    at: float,
) -> FailureRecord:
    """The record of a failed attempt, its signature computed."""
    pattern = normalise_message(error.message)
    frame = top_user_frame(error.traceback)
    return FailureRecord(
        execution_id=execution_id,
        node_id=node_id,
        attempt=attempt,
        project=project,
        task=task,
        version=version,
        at=at,
        kind=str(error.kind.value if hasattr(error.kind, "value") else error.kind),
        type=error.type,
        pattern=pattern,
        frame=frame,
        signature=signature_of(error.type, pattern, frame),
        message=error.message[:2000],
        traceback=error.traceback[-20_000:],
    )


class FailureGroup(msgspec.Struct, frozen=True, omit_defaults=True):
    """Failed attempts that share a signature.

    Attributes:
        signature / type / pattern / frame: what they share.
        count: how many attempts; executions: in how many executions.
        first_seen / last_seen: the first and last attempt's end.
        tasks: ``task@version`` of each task and version seen, sorted.
        example: the latest attempt (message and traceback included).
    """

    signature: str
    type: str
    pattern: str
    frame: str
    count: int
    executions: int
    first_seen: float
    last_seen: float
    tasks: list[str]
    example: FailureRecord
