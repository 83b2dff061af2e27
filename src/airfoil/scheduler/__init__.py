"""Airfoil's scheduler: a pure placement policy over nodes, queues and quotas.

It decides; it runs nothing. The engine (or the simulator, :mod:`airfoil.scheduler.sim`)
keeps a :class:`SchedulerState`, feeds it events, and asks it for a :class:`Decision`::

    from airfoil.scheduler import Node, SchedulerState, WorkItem
    from airfoil.core.resources import ResourceSpec

    state = SchedulerState([Node("n0", ResourceSpec(cpu=64, mem=512 * 2**30, gpu=8))])
    state.submit(WorkItem("a1", "team-a", ResourceSpec(cpu=4, gpu=1), submit_time=now))
    decision = state.decide(now)       # starts, preemptions, reasons, wake_at
    state.apply(decision, now)         # once the executor took the starts
    state.finish("a1", later)

:func:`decide` does the same from scratch in one call. Policies: ``fifo``, ``fifo-skip``,
``backfill``, ``fair``, ``las``, ``stretch`` and ``airfoil`` (the default); see
:func:`get_policy` and docs/scheduling.md. Importing this package does nothing but define classes.
"""

from __future__ import annotations

from airfoil.scheduler._airfoil import AirfoilPolicy
from airfoil.scheduler._decide import decide
from airfoil.scheduler._errors import (
    InvalidPolicyError,
    InvalidWorkItemError,
    PlacementError,
    SchedulingError,
    SimulationError,
    UnknownItemError,
    UnknownPolicyError,
    UnschedulableError,
)
from airfoil.scheduler._estimator import RuntimeEstimator
from airfoil.scheduler._fair import FairPolicy
from airfoil.scheduler._fifo import BackfillPolicy, FifoPolicy, FifoSkipPolicy
from airfoil.scheduler._las import LasPolicy
from airfoil.scheduler._model import Decision, Node, Quota, RunningItem, Start, WorkItem
from airfoil.scheduler._policy import Policy
from airfoil.scheduler._registry import DEFAULT_POLICY, get_policy, policy_names
from airfoil.scheduler._state import SchedulerState
from airfoil.scheduler._stretch import StretchPolicy

__all__ = [
    "DEFAULT_POLICY",
    "AirfoilPolicy",
    "BackfillPolicy",
    "Decision",
    "FairPolicy",
    "FifoPolicy",
    "FifoSkipPolicy",
    "InvalidPolicyError",
    "InvalidWorkItemError",
    "LasPolicy",
    "Node",
    "PlacementError",
    "Policy",
    "Quota",
    "RunningItem",
    "RuntimeEstimator",
    "SchedulerState",
    "SchedulingError",
    "SimulationError",
    "Start",
    "StretchPolicy",
    "UnknownItemError",
    "UnknownPolicyError",
    "UnschedulableError",
    "WorkItem",
    "decide",
    "get_policy",
    "policy_names",
]
