"""``flytekit.exceptions.user``: the user errors flytekit code raises and catches."""

from __future__ import annotations

__all__ = [
    "FlyteAssertion",
    "FlyteRecoverableException",
    "FlyteTypeException",
    "FlyteUserException",
    "FlyteValidationException",
    "FlyteValueException",
]


class FlyteUserException(Exception):
    """The base of flytekit's user errors."""


class FlyteRecoverableException(FlyteUserException):
    """An error worth retrying: Airfoil retries a task's failures up to its ``retries``."""


class FlyteValidationException(FlyteUserException, AssertionError):
    """Invalid definitions or inputs."""


class FlyteAssertion(FlyteUserException, AssertionError):
    """A failed assertion."""


class FlyteTypeException(FlyteUserException, TypeError):
    """A value of the wrong type."""


class FlyteValueException(FlyteUserException, ValueError):
    """A bad value."""
