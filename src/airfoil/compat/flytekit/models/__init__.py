"""flytekit's ``flytekit.models``: the literal and type classes custom transformers use."""
