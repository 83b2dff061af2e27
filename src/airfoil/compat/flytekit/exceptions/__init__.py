"""``flytekit.exceptions``."""
