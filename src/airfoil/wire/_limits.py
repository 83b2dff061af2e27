"""Bounds on what a request may carry, checked where the request is parsed (a 422 naming the
limit) so nothing unbounded reaches a service, the store or the type engine.

Invariants:

- Every integer in JSON inputs fits a signed 64-bit integer (what every store and worker
  language can hold; a local run's inputs are held to the same range,
  :mod:`airfoil.types._binding`); floats are finite JSON numbers: an infinity or NaN is
  written ``{"$float": "inf"}`` (the type engine's own encoding of them).
- JSON inputs nest at most :data:`MAX_DEPTH` deep and hold at most :data:`MAX_JSON_ITEMS`
  values in all, with strings of at most :data:`MAX_STRING` characters: bigger data travels
  as an upload (files, dataframes, arrays), not as JSON.
- Labels: at most :data:`MAX_LABELS`, keys of at most :data:`MAX_LABEL_KEY` characters and
  values of at most :data:`MAX_LABEL_VALUE`.
- A JSON request body is at most :data:`MAX_BODY` bytes (the server refuses a bigger one
  with a 413 before reading it; code packages and uploads have their own limits).
- Names and labels (:data:`PrintableName`) hold no control character: they are printed in
  other users' terminals (``airfoil executions list``) and an escape sequence in one would
  be run by the terminal (:func:`control_character`).
"""

from __future__ import annotations

import math
import re
from typing import Annotated, Any

from pydantic import AfterValidator, Field, StringConstraints

from airfoil.types._binding import INT64_MAX, INT64_MIN, out_of_int64

__all__ = [
    "INT64_MAX",
    "INT64_MIN",
    "MAX_BODY",
    "MAX_DEPTH",
    "MAX_INPUTS",
    "MAX_JSON_ITEMS",
    "MAX_LABELS",
    "MAX_LABEL_KEY",
    "MAX_LABEL_VALUE",
    "MAX_STRING",
    "JsonInputs",
    "JsonValue",
    "Labels",
    "PrintableName",
    "check_json",
    "control_character",
    "out_of_int64",
]

MAX_DEPTH = 32
MAX_JSON_ITEMS = 100_000
MAX_STRING = 1_000_000
MAX_INPUTS = 1000
MAX_LABELS = 64
MAX_LABEL_KEY = 100
MAX_LABEL_VALUE = 1000
#: Largest JSON request body, in bytes (a registration of 2,000 entities, 100,000 input
#: values): past it, data travels as an upload.
MAX_BODY = 64 * 2**20


#: C0 and C1 control characters and DEL: ESC starts a terminal's escape sequences.
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")


def control_character(text: str) -> str | None:
    """The first control character in ``text`` (``'\\x1b'``), or None."""
    found = _CONTROL.search(text)
    return None if found is None else repr(found.group())[1:-1]


def _printable(text: str) -> str:
    found = control_character(text)
    if found is not None:
        raise ValueError(
            f"holds the control character {found}: names and labels are shown in terminals "
            "and the console, where an escape sequence would be run; use printable text"
        )
    return text


#: A name or label: printable text (no control character, see :func:`control_character`).
PrintableName = Annotated[str, AfterValidator(_printable)]


def check_json(value: Any, where: str = "value") -> Any:
    """``value`` unchanged if it is within the bounds above.

    Raises:
        ValueError: naming the first bound broken and where (pydantic makes it a 422).
    """
    count = 0
    stack: list[tuple[Any, str, int]] = [(value, where, 0)]
    while stack:
        item, path, depth = stack.pop()
        count += 1
        if count > MAX_JSON_ITEMS:
            raise ValueError(
                f"{where} holds more than {MAX_JSON_ITEMS} JSON values: send large data as an "
                "upload (a File, DataFrame or array input) instead"
            )
        if depth > MAX_DEPTH:
            raise ValueError(f"{path} nests deeper than {MAX_DEPTH} levels")
        if isinstance(item, bool) or item is None:
            continue
        if isinstance(item, int):
            if not INT64_MIN <= item <= INT64_MAX:
                raise ValueError(out_of_int64(path, item))
        elif isinstance(item, float):
            if not math.isfinite(item):
                raise ValueError(
                    f"{path} is {item!r}, which JSON cannot hold: write an infinity or NaN as "
                    '{"$float": "inf"} (or "-inf", "nan")'
                )
        elif isinstance(item, str):
            if len(item) > MAX_STRING:
                raise ValueError(
                    f"{path} is a text of {len(item)} characters; the limit is {MAX_STRING}"
                )
        elif isinstance(item, list):
            stack.extend((v, f"{path}[{i}]", depth + 1) for i, v in enumerate(item))
        elif isinstance(item, dict):
            for k, v in item.items():
                if len(str(k)) > MAX_STRING:
                    raise ValueError(f"{path} has a key longer than {MAX_STRING} characters")
                stack.append((v, f"{path}.{k}", depth + 1))
    return value


def _inputs(value: dict[str, Any]) -> dict[str, Any]:
    return check_json(value, "inputs")  # type: ignore[no-any-return]


def _value(value: Any) -> Any:
    return check_json(value, "value")


#: The ``inputs`` of a launch: named JSON values within the bounds.
JsonInputs = Annotated[
    dict[Annotated[str, StringConstraints(max_length=300)], Any],
    Field(max_length=MAX_INPUTS),
    AfterValidator(_inputs),
]
#: One JSON value within the bounds (a gate's answer).
JsonValue = Annotated[Any, AfterValidator(_value)]
#: An execution's labels.
Labels = Annotated[
    dict[
        Annotated[
            str,
            StringConstraints(min_length=1, max_length=MAX_LABEL_KEY),
            AfterValidator(_printable),
        ],
        Annotated[str, StringConstraints(max_length=MAX_LABEL_VALUE), AfterValidator(_printable)],
    ],
    Field(max_length=MAX_LABELS),
]
