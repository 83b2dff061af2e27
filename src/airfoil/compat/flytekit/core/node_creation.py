"""``flytekit.core.node_creation``."""

from airfoil.compat.flytekit._imperative import create_node

__all__ = ["create_node"]
