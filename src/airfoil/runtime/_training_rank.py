"""What one rank of a training gang runs: load the task, decode its inputs, call its function
with a checkpoint series in its context, and return rank 0's value (pickled).

:func:`run_rank` is the gang's entry (:data:`~airfoil.executors._gang.RankEntry`): the training
runner hands it to the launcher by reference, and it runs in a process of the gang (a local
process or a Ray actor), never in the supervising worker.
"""

from __future__ import annotations

import inspect
import os
import pickle
import socket
import sys

import msgspec

from airfoil.core.records import TaskSpec
from airfoil.sdk._checkpoint import Checkpoint

__all__ = ["RankJob", "run_rank"]


class RankJob(msgspec.Struct, frozen=True):
    """What every rank of one gang start is given."""

    spec: bytes  # the TaskSpec, JSON
    sys_path: list[str]  # the supervisor's import path (its code root included)
    kwargs: bytes  # the decoded inputs, pickled
    blob_root: str  # the blob store's URL
    checkpoint_prefix: str
    execution_id: str
    node_id: str
    attempt: int
    secrets: dict[str, str] = {}
    context: dict[str, str] = {}
    project: str = "default"
    domain: str = "development"
    execution_name: str = ""


def run_rank(payload: bytes) -> bytes:
    """Run the task's function as this process's rank (``RANK`` in the environment); return
    its value pickled on rank 0, empty bytes on the others."""
    from airfoil.executors.base import rank_log_key
    from airfoil.runtime._rank_log import RankLogShipper, gang_start_line
    from airfoil.runtime.loader import load_task
    from airfoil.sdk._context import ExecutionContext, Secrets, reset_context, set_context
    from airfoil.store.blob import open_blob_store

    job = msgspec.msgpack.decode(payload, type=RankJob)
    for entry in reversed(job.sys_path):
        if entry and entry not in sys.path:
            sys.path.insert(0, entry)
    spec = msgspec.json.decode(job.spec, type=TaskSpec)
    os.environ.update(spec.environment)
    os.environ["AIRFOIL_TRAINING_BACKEND"] = str(spec.config.get("backend", "gloo"))
    taskdef = load_task(spec)
    kwargs = pickle.loads(job.kwargs)
    blobs = open_blob_store(job.blob_root)
    rank = int(os.environ.get("RANK", "0"))
    shipper = RankLogShipper.start(  # the rank's output, live, in its log blob
        blobs,
        rank_log_key(job.execution_id, job.node_id, job.attempt, rank),
        gang_start_line(
            int(os.environ.get("AIRFOIL_GANG_RESTART", "0")),
            f"{socket.gethostname()}:{os.getpid()}",
        ),
        tuple(v for v in job.secrets.values() if v),
    )
    ctx = ExecutionContext(
        execution_id=job.execution_id,
        node_id=job.node_id,
        attempt=job.attempt,
        task=spec.name,
        secrets=Secrets(job.secrets),
        context=dict(job.context),
        checkpoints=Checkpoint(blobs, job.checkpoint_prefix),
        project=job.project,
        domain=job.domain,
        execution_name=job.execution_name or job.execution_id,
    )
    token = set_context(ctx)
    try:
        result = taskdef.fn(**kwargs)
        if inspect.iscoroutine(result):
            import asyncio  # an async training task only

            result = asyncio.run(result)
    finally:
        reset_context(token)
        ctx.cleanup()
        if shipper is not None:
            shipper.close()
    if rank != 0:
        return b""
    return pickle.dumps(result, protocol=pickle.HIGHEST_PROTOCOL)
