"""What a cluster's node is, as an executor reports it and the scheduler places work on it.

An executor that places attempts beyond this machine (Ray) reports its nodes as
:class:`ClusterNode` records; the engine's resource queue turns the alive ones into the
scheduler's nodes, and the queue's snapshot carries them (with what each one holds) to
``airfoil nodes``, the API and the console.
"""

from __future__ import annotations

import msgspec

from airfoil.core.resources import ResourceSpec

__all__ = ["ClusterNode"]


class ClusterNode(msgspec.Struct, frozen=True, omit_defaults=True):
    """One node of a cluster.

    Attributes:
        name: the node's id in its cluster (Ray's node id): what placements name.
        address: where it is (an IP or host name), for people.
        alive: whether the cluster counts it now (a node that left is reported dead).
        capacity: its CPUs, memory and GPUs in total.
        custom: its other resources (accelerator types, custom resources), by name.
        head: whether it is the cluster's head node.
    """

    name: str
    address: str = ""
    alive: bool = True
    capacity: ResourceSpec = ResourceSpec()
    custom: dict[str, float] = {}
    head: bool = False
