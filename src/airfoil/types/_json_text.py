"""What a command-line JSON value that does not parse is told, in the user's terms."""

from __future__ import annotations

import re

import msgspec

__all__ = ["FLOAT_SPECIAL_FORM", "json_problem"]

#: How a float JSON has no number for is written inside JSON (the type engine's own form).
FLOAT_SPECIAL_FORM = '{"$float": "nan"} (or "inf", "-inf")'


def json_problem(text: str, exc: msgspec.DecodeError) -> str:
    """Why ``text`` is not JSON, in the user's terms: a NaN or Infinity token, or a number
    past a float's range, gets the form that is read; anything else msgspec's own words."""
    detail = str(exc)
    if re.search(r"(?<![\w\"])-?(NaN|Infinity)(?![\w\"])", text):
        return f"JSON has no NaN or Infinity: write {FLOAT_SPECIAL_FORM}"
    if detail.startswith("Number out of range"):
        return (
            f'{detail}: a float\'s largest is about 1.8e308; for infinity write {{"$float": "inf"}}'
        )
    return detail
