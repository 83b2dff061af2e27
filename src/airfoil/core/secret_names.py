"""What a secret's name looks like: one rule for the secret store (``airfoil secrets set``)
and a task's ``secret_requests`` (checked when the task is defined), so a task never asks for
a name the store refuses to hold, which it would silently never find."""

from __future__ import annotations

import re

__all__ = ["SECRET_NAME", "secret_name_problem"]

#: What a secret's name looks like: 1-100 letters, digits, ``_``, ``.`` and ``-``, starting
#: with a letter, a digit or ``_``.
SECRET_NAME = r"^[A-Za-z0-9_][A-Za-z0-9_.\-]{0,99}$"
_NAME = re.compile(SECRET_NAME)


def secret_name_problem(name: object) -> str | None:
    """What is wrong with a secret's ``name`` (None if it is valid)."""
    if isinstance(name, str) and _NAME.fullmatch(name):
        return None
    return (
        f"invalid secret name {name!r}: use 1-100 letters, digits, '_', '.' or '-', "
        "starting with a letter, a digit or '_'"
    )
