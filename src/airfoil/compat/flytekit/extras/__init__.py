"""``flytekit.extras``."""
