"""``flytekit.testing``: ``task_mock`` and ``patch`` (see :mod:`airfoil.testing.mocking`)."""

from airfoil.sdk._mocking import patch, task_mock

__all__ = ["patch", "task_mock"]
