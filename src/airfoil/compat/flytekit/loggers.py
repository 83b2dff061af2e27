"""``flytekit.loggers``: ``logger`` is ``airfoil.compat.flytekit.logger``."""

import logging

#: flytekit's own logger (the same one as ``flytekit.logger``).
logger = logging.getLogger("flytekit")

__all__ = ["logger"]
