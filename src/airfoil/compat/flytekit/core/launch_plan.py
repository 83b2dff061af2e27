"""``flytekit.core.launch_plan``: the same objects as the top-level names."""

from airfoil.compat.flytekit._launch import LaunchPlan
from airfoil.compat.flytekit._remote import reference_launch_plan

__all__ = ["LaunchPlan", "reference_launch_plan"]
