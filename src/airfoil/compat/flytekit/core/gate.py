"""``flytekit.core.gate``: the same objects as the top-level names."""

from airfoil.sdk._gates import approve, sleep, wait_for_input

__all__ = ["approve", "sleep", "wait_for_input"]
