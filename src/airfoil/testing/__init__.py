"""Test helpers shipped with Airfoil: real implementations of the seams, for users' tests too.

Import submodules explicitly (``airfoil.testing.conformance``); nothing is imported here.
"""
