"""Compatibility layers: other orchestrators' public APIs mapped onto Airfoil.

Import a layer explicitly (``import airfoil.compat.flytekit as flytekit``); nothing is
imported here.
"""
