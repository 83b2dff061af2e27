"""``flytekit.core.type_engine``."""

from airfoil.compat.flytekit._types import TypeEngine, TypeTransformer

__all__ = ["TypeEngine", "TypeTransformer"]
