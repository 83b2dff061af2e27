"""Executors: the ``submit()`` seam and its adapters (inline, process, ray).

The engine hands attempts to an executor and polls for results; it never knows how they run.
"""

from airfoil.executors.base import AttemptRequest, AttemptResult, Executor

__all__ = ["AttemptRequest", "AttemptResult", "Executor"]
