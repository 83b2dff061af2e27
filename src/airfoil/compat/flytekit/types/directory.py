"""``flytekit.types.directory``: ``FlyteDirectory`` and its format-named forms."""

from airfoil.compat.flytekit._types import FlyteDirectory

TensorboardLogs = FlyteDirectory
TFRecordsDirectory = FlyteDirectory

__all__ = ["FlyteDirectory", "TFRecordsDirectory", "TensorboardLogs"]
