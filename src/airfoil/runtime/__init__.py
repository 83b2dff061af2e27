"""What runs inside a worker: load the task's code, fetch inputs, run it, write outputs.

This is the one place that loads and calls user code, always through
:func:`airfoil.runtime.boundary.user_code`, so a user's exception is reported as the user's
error with its traceback, distinct from a platform failure.
"""
