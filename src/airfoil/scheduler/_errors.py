"""Errors raised by the scheduler and its simulator.

They hang off the one tree in :mod:`airfoil.core.errors`:

```
AirfoilError
└── SchedulingError                 base of everything below
    ├── UnknownPolicyError          (also ConfigError) no policy by that name
    ├── InvalidPolicyError          (also ConfigError) a policy setting out of range
    ├── InvalidWorkItemError        (also UserError) a malformed item: gang < 1, negative
    │                               resources, a duplicate id
    ├── UnschedulableError          (also UserError) the item could never fit the cluster
    ├── UnknownItemError            (also NotFoundError) no waiting/running item by that id
    ├── PlacementError              a start that names an unknown node or over-commits one
    └── SimulationError             (also ConfigError) a bad trace, nodes spec or sim option
```
"""

from __future__ import annotations

from airfoil.core.errors import AirfoilError, ConfigError, NotFoundError, UserError

__all__ = [
    "InvalidWorkItemError",
    "PlacementError",
    "SchedulingError",
    "SimulationError",
    "UnknownItemError",
    "UnknownPolicyError",
    "UnschedulableError",
]


class SchedulingError(AirfoilError):
    """Base of every error raised by :mod:`airfoil.scheduler`."""


class UnknownPolicyError(SchedulingError, ConfigError):
    """No scheduling policy is registered under the given name."""


class InvalidPolicyError(SchedulingError, ConfigError):
    """A policy was given a setting out of its range."""


class InvalidWorkItemError(SchedulingError, UserError):
    """A work item is malformed: gang size below 1, negative resources, a reused id."""


class UnschedulableError(SchedulingError, UserError):
    """A work item asks for more than the cluster could ever give, so it would wait forever."""


class UnknownItemError(SchedulingError, NotFoundError):
    """No waiting or running item has the given id."""


class PlacementError(SchedulingError):
    """A start names an unknown node, the wrong number of workers, or over-commits a node."""


class SimulationError(SchedulingError, ConfigError):
    """A bad trace file, nodes spec or simulator option."""
