"""``flytekit.core``: the modules programs import names from directly."""
