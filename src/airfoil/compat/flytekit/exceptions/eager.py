"""``flytekit.exceptions.eager``: ``EagerException``.

flytekit on a cluster raises it inside an ``@eager`` function when a task or workflow it
called failed; flytekit's local run (and Airfoil) raise the failed task's own exception, so
``except EagerException`` catches nothing locally and ``except ValueError`` does.
"""

from __future__ import annotations

__all__ = ["EagerException"]


class EagerException(Exception):
    """A failure of an entity an ``@eager`` workflow called (see the module's note)."""
