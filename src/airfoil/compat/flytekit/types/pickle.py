"""``flytekit.types.pickle``: ``FlytePickle``, an annotation for any (pickled) object."""

from airfoil.compat.flytekit._types import FlytePickle

__all__ = ["FlytePickle"]
