"""``flytekit.extras.tasks.shell``."""

from airfoil.compat.flytekit._shell import OutputLocation, ShellTask

__all__ = ["OutputLocation", "ShellTask"]
