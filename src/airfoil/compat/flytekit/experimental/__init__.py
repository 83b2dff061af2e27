"""``flytekit.experimental`` of flytekit before 1.13: ``eager`` and ``EagerException`` (now
``flytekit.eager`` and ``flytekit.exceptions.eager.EagerException``)."""

from airfoil.compat.flytekit._decorators import eager
from airfoil.compat.flytekit.exceptions.eager import EagerException

__all__ = ["EagerException", "eager"]
