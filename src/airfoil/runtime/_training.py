"""The ``training`` task type: supervise a gang of ranks, restarting it from its checkpoint.

An attempt of a training task (:func:`airfoil.sdk._training.training_task`) is a supervisor:
it starts the task's ranks as a gang through a :class:`~airfoil.executors._gang.GangLauncher`
(local processes, or Ray actors in a placement group on the ray executor), waits, and

- when every rank returned, takes rank 0's value as the output;
- when any rank failed (its code raised, its process died, its node was lost), the launcher
  has stopped the whole gang; the supervisor starts it again, each rank resuming from the
  latest checkpoint (``af.current_context().checkpoint``), up to ``max_restarts`` times. The
  task's ``retries`` are not used for this; once the restarts are spent, a rank's error fails
  the attempt as the user's error and a lost rank as a system error.

Each rank's log is kept in the blob store beside the attempt's log
(``logs/<execution>/<node>/<attempt>.rank-<r>.log``, every start of the gang appended), and the
attempt's own log tells the story: starts, failures, restarts and the step resumed from.
"""

from __future__ import annotations

import os
import pickle
import sys
from typing import Any

import msgspec

from airfoil.core.blobs import BlobStore
from airfoil.core.errors import WorkerLostError
from airfoil.core.records import TaskSpec, Value, encode_json
from airfoil.executors._gang import (
    GANG_NODES_ENV,
    GangLauncher,
    GangOutcome,
    GangPlan,
    RankOutcome,
    gang_launcher,
    run_gang,
)
from airfoil.executors.base import rank_log_key
from airfoil.runtime._rank_log import gang_start_line, unshipped
from airfoil.runtime._task_types import encode_outputs
from airfoil.runtime._training_rank import RankJob, run_rank
from airfoil.sdk._checkpoint import Checkpoint
from airfoil.sdk._context import current_context, scrub
from airfoil.sdk._training import TrainingConfig
from airfoil.types import TypeEngine, ValueContext

__all__ = ["RankFailedError", "TrainingRunner", "checkpoint_prefix", "rank_log_key"]
# rank_log_key lives in executors.base (the server and the CLI read rank logs); kept here too.


class RankFailedError(Exception):
    """A rank's code raised (after the gang's restarts were spent): the user's error."""


def checkpoint_prefix(execution_id: str, node_id: str) -> str:
    """Where a node's checkpoints are kept (shared by its attempts and gang restarts)."""
    return f"checkpoints/{execution_id}/{node_id}"


def _blob_root(blobs: BlobStore) -> str:
    """The URL the store was opened with (its URI of a key, less the key)."""
    return blobs.uri("k")[:-1].rstrip("/")


class TrainingRunner:
    """Runs training attempts (the ``training`` task type).

    Args:
        launcher: starts the gangs (default: this process's,
            :func:`~airfoil.executors._gang.gang_launcher`, looked up at each attempt).
    """

    def __init__(self, launcher: GangLauncher | None = None) -> None:
        self._launcher = launcher

    def run(self, task: Any, kwargs: dict[str, Any], spec: TaskSpec, blobs: BlobStore) -> Any:
        config = TrainingConfig.decode(spec.config)
        ctx = current_context()
        prefix = checkpoint_prefix(ctx.execution_id, ctx.node_id)
        checkpoints = Checkpoint(blobs, prefix)
        ctx.checkpoints = checkpoints
        secrets = {n: ctx.secrets[n] for n in ctx.secrets}
        job = RankJob(
            spec=encode_json(spec),
            sys_path=[p for p in sys.path if p],
            kwargs=pickle.dumps(kwargs, protocol=pickle.HIGHEST_PROTOCOL),
            blob_root=_blob_root(blobs),
            checkpoint_prefix=prefix,
            execution_id=ctx.execution_id,
            node_id=ctx.node_id,
            attempt=ctx.attempt,
            secrets=secrets,
            context=dict(ctx.context),
            project=ctx.project,
            domain=ctx.domain,
            execution_name=ctx.execution_name,
        )
        payload = msgspec.msgpack.encode(job)
        launcher = self._launcher or gang_launcher()
        known = list(secrets.values())
        restart = 0
        while True:
            plan = GangPlan(
                workers=config.workers,
                cpu=config.cpu,
                mem=config.mem,
                gpu=config.gpu,
                placement=config.placement,
                start_timeout_s=config.start_timeout_s,
                restart=restart,
                name=f"{ctx.execution_id}/{ctx.node_id}",
                nodes=_placed_nodes(config.workers) if restart == 0 else (),
            )
            step = checkpoints.step
            print(
                f"[training] gang start {restart} of {spec.name}: {config.workers} worker(s), "
                f"backend {config.backend}, "
                + (f"resuming from checkpoint step {step}" if step is not None else "no checkpoint")
            )
            outcome = run_gang(launcher, plan, run_rank, payload)
            where = (ctx.execution_id, ctx.node_id, ctx.attempt)
            self._keep_logs(outcome, blobs, where, restart, known)
            print(
                f"[training] gang start {restart}: all {config.workers} rank(s) running "
                f"{outcome.running_at - outcome.started_at:.2f}s after launch"
            )
            if outcome.ok:
                print(f"[training] all ranks finished (gang start {restart})")
                return pickle.loads(outcome.ranks[0].result)
            failure = outcome.first_failure() or outcome.ranks[0]
            why = _describe(failure)
            print(f"[training] gang start {restart} failed: {scrub(why, known)}", flush=True)
            if restart >= config.max_restarts:
                if failure.lost:
                    raise WorkerLostError(
                        f"training gang of {spec.name!r}: {why}; gave up after {restart} "
                        f"restart(s) (max_restarts={config.max_restarts})"
                    )
                raise RankFailedError(
                    f"rank {failure.rank} of {spec.name!r} raised {failure.error_type}: "
                    f"{failure.message} (after {restart} restart(s), max_restarts="
                    f"{config.max_restarts})\n{failure.traceback}"
                )
            restart += 1
            print(f"[training] stopping the gang; restart {restart} of {config.max_restarts}")

    def outputs(
        self, result: Any, task: Any, engine: TypeEngine, ctx: ValueContext
    ) -> dict[str, Value]:
        return encode_outputs(result, task, engine, ctx)

    @staticmethod
    def _keep_logs(
        outcome: GangOutcome,
        blobs: BlobStore,
        where: tuple[str, str, int],
        restart: int,
        secrets: list[str],
    ) -> None:
        """Append to each rank's log blob what of this gang start's output the rank did not
        append itself while it ran (best effort; see :mod:`airfoil.runtime._rank_log`)."""
        for r in outcome.ranks:
            key = rank_log_key(*where, r.rank)
            text = scrub(r.log, secrets)
            try:
                missing = unshipped(blobs, key, restart, text)
                if missing is None:
                    blobs.append_text(key, gang_start_line(restart, r.node) + text)
                elif missing:
                    blobs.append_text(key, missing)
            except Exception:  # logs are best effort
                continue


def _describe(r: RankOutcome) -> str:
    if r.lost:
        return r.message or f"rank {r.rank} was lost"
    return f"rank {r.rank} raised {r.error_type}: {r.message}"


def _placed_nodes(workers: int) -> tuple[str, ...]:
    """The node of each rank as the engine's policy placed the gang (see
    :data:`~airfoil.executors._gang.GANG_NODES_ENV`), or () when it did not place it.

    Only the gang's first start follows it: a restart after a lost node places the ranks
    wherever they fit now (the policy's nodes may be the lost ones)."""
    nodes = tuple(n for n in os.environ.get(GANG_NODES_ENV, "").split(",") if n)
    return nodes if len(nodes) == workers else ()
