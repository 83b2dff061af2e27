"""``flytekit.extend``: custom type transformers."""

from airfoil.compat.flytekit._types import TypeEngine, TypeTransformer

__all__ = ["TypeEngine", "TypeTransformer"]
