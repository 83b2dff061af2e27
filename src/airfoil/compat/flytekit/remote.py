"""``flytekit.remote``: not available (see :class:`FlyteRemote`)."""

from airfoil.compat.flytekit._remote import FlyteRemote

__all__ = ["FlyteRemote"]
