"""``flytekit.types``: files, directories, structured datasets."""
