"""Wire models of the cluster view (issue 13): its nodes, what each holds and runs, and the
admission queue with the reason each waiting attempt waits."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict

__all__ = ["ClusterNodeOut", "ClusterOut", "QueueItemOut"]


class ClusterNodeOut(BaseModel):
    """A node: its capacity, what attempts hold on it, and which run there.

    ``running`` lists ``execution/node`` of the attempts there; those of projects the caller
    may not read are counted in ``hidden`` instead. ``machine`` marks a process admitting on
    its own machine (no cluster): ``name`` is then that process.
    """

    model_config = ConfigDict(extra="ignore")

    name: str
    address: str
    alive: bool
    head: bool = False
    machine: bool = False
    cpu: float
    mem: int
    gpu: int
    custom: dict[str, float] = {}
    used_cpu: float = 0.0
    used_mem: int = 0
    used_gpu: int = 0
    running: list[str] = []
    hidden: int = 0


class QueueItemOut(BaseModel):
    """An attempt waiting for resources (with why) or running (with where)."""

    model_config = ConfigDict(extra="ignore")

    state: str
    project: str
    execution_id: str
    node_id: str
    task: str
    cpu: float
    mem: int
    gpu: int
    workers: int = 1
    priority: int = 0
    interruptible: bool = False
    submit_time: float
    estimate_s: float = 0.0
    reason: str = ""
    gpus: list[str] = []
    placement: list[str] = []
    owner: str = ""
    policy: str = ""
    #: the execution's name in its project (what routes and ``airfoil`` commands take)
    execution_name: str = ""
    #: the execution's domain, within which its name is unique (``?domain=``)
    execution_domain: str = ""


class ClusterOut(BaseModel):
    """The cluster's nodes (head first) and queue (waiting first, in queue order).

    ``live`` says the node list was read from the cluster now (a server driving on Ray);
    otherwise it is what admitting processes last reported. ``hidden`` counts queue items of
    projects the caller may not read.
    """

    model_config = ConfigDict(extra="ignore")

    nodes: list[ClusterNodeOut]
    queue: list[QueueItemOut]
    live: bool = False
    hidden: int = 0
