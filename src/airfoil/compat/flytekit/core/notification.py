"""``flytekit.core.notification``: the same objects as the top-level names."""

from airfoil.compat.flytekit._launch import Email, PagerDuty, Slack

__all__ = ["Email", "PagerDuty", "Slack"]
