"""Policies by name: :func:`get_policy` and :func:`policy_names`.

The registry is a fixed table built on first use, not filled at import, so importing the
scheduler does nothing and a policy cannot be swapped from afar.
"""

from __future__ import annotations

from functools import cache
from typing import TYPE_CHECKING

from airfoil.scheduler._errors import UnknownPolicyError

if TYPE_CHECKING:
    from airfoil.scheduler._policy import Policy

__all__ = ["DEFAULT_POLICY", "get_policy", "policy_names"]

DEFAULT_POLICY = "airfoil"


@cache
def _table() -> dict[str, Policy]:
    from airfoil.scheduler._airfoil import AirfoilPolicy
    from airfoil.scheduler._fair import FairPolicy
    from airfoil.scheduler._fifo import BackfillPolicy, FifoPolicy, FifoSkipPolicy
    from airfoil.scheduler._las import LasPolicy
    from airfoil.scheduler._stretch import StretchPolicy

    policies: list[Policy] = [
        FifoPolicy(),
        FifoSkipPolicy(),
        BackfillPolicy(),
        FairPolicy(),
        LasPolicy(),
        StretchPolicy(),
        AirfoilPolicy(),
    ]
    return {policy.name: policy for policy in policies}


def policy_names() -> tuple[str, ...]:
    """Registered policy names, the default last."""
    return tuple(_table())


def get_policy(name: str) -> Policy:
    """The policy registered as ``name``, with its default settings.

    Raises:
        UnknownPolicyError: no policy has that name.
    """
    try:
        return _table()[name]
    except KeyError:
        known = ", ".join(_table())
        raise UnknownPolicyError(
            f"unknown scheduling policy {name!r}; choose one of: {known}"
        ) from None
