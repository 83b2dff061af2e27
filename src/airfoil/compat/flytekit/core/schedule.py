"""``flytekit.core.schedule``: the same objects as the top-level names."""

from airfoil.compat.flytekit._launch import CronSchedule, FixedRate

__all__ = ["CronSchedule", "FixedRate"]
