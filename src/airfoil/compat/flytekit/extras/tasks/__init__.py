"""``flytekit.extras.tasks``."""
