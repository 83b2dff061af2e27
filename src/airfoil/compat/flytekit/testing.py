"""``flytekit.testing``: ``task_mock`` and ``patch`` (see :mod:`airfoil.testing.mocking`) and
``SecretsManager`` (where a local run reads each secret)."""

from airfoil.compat.flytekit._context import SecretsManager
from airfoil.sdk._mocking import patch, task_mock

__all__ = ["SecretsManager", "patch", "task_mock"]
