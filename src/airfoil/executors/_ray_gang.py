"""Gangs on Ray: the ranks of a training task as Ray actors in one placement group.

:class:`RayGang` is the :class:`~airfoil.executors._gang.GangLauncher` of the ray executor's
workers (each :class:`~airfoil.executors._ray_worker.AttemptWorker` installs one): it reserves
one bundle per rank all at once (a placement group: all or none, within the plan's start
timeout), starts one :class:`RankActor` per bundle, tells every rank rank 0's address, and runs
the entry on all of them. When a rank fails -- its code raised, its actor died, its node was
lost -- every other rank is killed and the placement group removed, so the gang ends whole.

Placement: ``auto`` (Ray ``PACK``) puts the ranks on as few nodes as possible, filling each
before the next, so a gang that fits on one node stays there and one that spans nodes takes
whole nodes, as the scheduler's simulator places gangs; ``pack`` insists on one node
(``STRICT_PACK``); ``spread`` puts each rank on a node of its own (``STRICT_SPREAD``).

Like :mod:`airfoil.executors._ray_worker`, this module imports Ray only inside functions.
"""

from __future__ import annotations

import contextlib
import os
import socket
import tempfile
import time
from typing import Any

import msgspec

from airfoil.executors._gang import (
    PEER_GRACE_S,
    GangOutcome,
    GangPlan,
    GangStartError,
    RankEntry,
    RankOutcome,
    call_rank,
    free_port,
    rank_env,
)
from airfoil.executors._ray_reaper import reaper_on, stop_actors

__all__ = ["RankActor", "RayGang", "placement_strategy"]

NODE_ID_LABEL = "ray.io/node-id"  # the label every Ray node carries: its node id


class RankActor:
    """One rank: a Ray actor in a bundle of the gang's placement group."""

    def where(self) -> tuple[str, str, int, float]:
        """``(node id, node IP, pid, start time)`` of this rank."""
        import ray

        from airfoil.executors._ray_reaper import where_am_i

        r: Any = ray  # parts of Ray's API are untyped
        node, pid, created = where_am_i()
        return node, r.util.get_node_ip_address(), pid, created

    def free_port(self) -> int:
        return free_port()

    def run(self, entry: RankEntry, payload: bytes, env: dict[str, str]) -> bytes:
        """Run ``entry(payload)`` with ``env`` set; a msgpack :class:`RankOutcome` (with what
        the rank wrote to stdout and stderr)."""
        os.environ.update(env)
        rank = int(env.get("RANK", "0"))
        with tempfile.TemporaryFile() as log:
            saved = [os.dup(1), os.dup(2)]
            os.dup2(log.fileno(), 1)
            os.dup2(log.fileno(), 2)
            try:
                outcome = call_rank(entry, payload, rank)
            finally:
                with contextlib.suppress(Exception):
                    import sys

                    sys.stdout.flush()
                    sys.stderr.flush()
                os.dup2(saved[0], 1)
                os.dup2(saved[1], 2)
                for fd in saved:
                    os.close(fd)
            log.seek(0)
            text = log.read().decode("utf-8", "replace")
        node = f"{socket.gethostname()}:{os.getpid()}"
        return msgspec.msgpack.encode(msgspec.structs.replace(outcome, log=text, node=node))


def placement_strategy(plan: GangPlan) -> str:
    """Ray's placement-group strategy for ``plan`` (see the module docstring)."""
    return {"pack": "STRICT_PACK", "spread": "STRICT_SPREAD"}.get(plan.placement, "PACK")


def _bundle(plan: GangPlan) -> dict[str, float]:
    bundle = {"CPU": max(plan.cpu, 0.01)}
    if plan.gpu:
        bundle["GPU"] = float(plan.gpu)
    if plan.mem:
        bundle["memory"] = float(plan.mem)
    return bundle


class RayGang:
    """Ranks as Ray actors in one placement group (see the module docstring)."""

    def __init__(self) -> None:
        self._actor_cls: Any = None

    def run(self, plan: GangPlan, entry: RankEntry, payload: bytes) -> GangOutcome:
        import ray
        from ray.util.placement_group import placement_group, remove_placement_group
        from ray.util.scheduling_strategies import PlacementGroupSchedulingStrategy

        started_at = time.time()
        if self._actor_cls is None:
            self._actor_cls = ray.remote(RankActor)
        bundle = _bundle(plan)
        name = f"airfoil-gang:{plan.name}" if plan.name else ""
        if name:
            _remove_stale(ray, name)
        if len(plan.nodes) == plan.workers:
            # the engine's policy placed every rank: each bundle goes to its node, no other
            pg = placement_group(
                [bundle] * plan.workers,
                strategy="PACK",
                name=name,
                bundle_label_selector=[{NODE_ID_LABEL: node} for node in plan.nodes],
            )
        else:
            pg = placement_group(
                [bundle] * plan.workers, strategy=placement_strategy(plan), name=name
            )
        actors: list[Any] = []
        wheres: list[Any] = []
        try:
            ready, _ = ray.wait([pg.ready()], timeout=plan.start_timeout_s)
            if not ready:
                raise GangStartError(
                    f"the gang of {plan.workers} worker(s) ({bundle} each) could not be placed "
                    f"within {plan.start_timeout_s:g}s: free resources, add nodes, or raise "
                    "start_timeout_s"
                )
            for i in range(plan.workers):
                options: dict[str, Any] = {
                    "num_cpus": bundle["CPU"],
                    "max_restarts": 0,
                    "scheduling_strategy": PlacementGroupSchedulingStrategy(
                        placement_group=pg, placement_group_bundle_index=i
                    ),
                }
                if plan.gpu:
                    options["num_gpus"] = plan.gpu
                if plan.mem:
                    options["memory"] = plan.mem
                actors.append(self._actor_cls.options(**options).remote())
            try:
                wheres = ray.get([a.where.remote() for a in actors], timeout=plan.start_timeout_s)
                port = ray.get(actors[0].free_port.remote(), timeout=plan.start_timeout_s)
            except (ray.exceptions.RayError, TimeoutError) as exc:
                raise GangStartError(f"a rank of the gang did not start: {exc}") from exc
            local: dict[str, list[int]] = {}
            for rank, (node, *_rest) in enumerate(wheres):
                local.setdefault(node, []).append(rank)
            for node in local:  # up before a rank is stopped with its processes there
                reaper_on(ray, node)
            refs = []
            for rank, a in enumerate(actors):
                mates = local[wheres[rank][0]]
                env = rank_env(
                    rank,
                    plan.workers,
                    mates.index(rank),
                    len(mates),
                    wheres[0][1],
                    port,
                    plan.restart,
                )
                refs.append(a.run.remote(entry, payload, env))
            running_at = time.time()
            outcomes = _wait(ray, refs, actors, wheres)
            return GangOutcome(ranks=outcomes, running_at=running_at, started_at=started_at)
        finally:
            # each rank with the processes its code started (any session)
            stop_actors(ray, [(a, _stop_where(wheres, i)) for i, a in enumerate(actors)])
            with contextlib.suppress(Exception):
                remove_placement_group(pg)


def _remove_stale(ray: Any, name: str) -> None:
    """Remove the placement group ``name`` if one is left (its supervisor was lost with its
    node: a placement group lives as long as the job that made it, and Ray re-places the lost
    bundles, so it would hold the resources the new gang needs -- and its ranks, if any still
    run, are stopped with it: never two starts of a gang at once)."""
    from ray.util.placement_group import (
        get_placement_group,
        placement_group_table,
        remove_placement_group,
    )

    try:
        stale = get_placement_group(name)
    except ValueError:  # none by that name
        return
    remove_placement_group(stale)
    deadline = time.monotonic() + 10.0
    while time.monotonic() < deadline:  # wait until Ray has let its resources go
        if placement_group_table(stale).get("state") in ("REMOVED", None):
            return
        time.sleep(0.1)


def _stop_where(wheres: list[Any], rank: int) -> tuple[str, int, float] | None:
    """What stopping rank ``rank`` with its processes needs (None: it never said where)."""
    if rank >= len(wheres):
        return None
    node, _ip, pid, created = wheres[rank]
    return (node, pid, created)


def _wait(
    ray: Any, refs: list[Any], actors: list[Any], wheres: list[tuple[str, str, int, float]]
) -> list[RankOutcome]:
    """Every rank's outcome: all of them, or the first failure and the rest stopped (after a
    rank raised, the others get :data:`PEER_GRACE_S` to end first: a rank that died makes its
    peers raise, often before Ray reports its death, and the death is the cause)."""
    rank_of = {ref: i for i, ref in enumerate(refs)}
    outcomes: dict[int, RankOutcome] = {}
    pending = list(refs)
    stop_at: float | None = None
    while pending:
        timeout = None if stop_at is None else max(0.0, stop_at - time.monotonic())
        done, pending = ray.wait(pending, num_returns=1, timeout=timeout)
        for ref in done:
            rank = rank_of[ref]
            outcomes[rank] = outcome = _rank_outcome(ray, ref, rank, wheres[rank][0])
            if not outcome.ok and stop_at is None:
                stop_at = time.monotonic() + (0.0 if outcome.lost else PEER_GRACE_S)
        if stop_at is not None and (
            not done or time.monotonic() >= stop_at or any(o.lost for o in outcomes.values())
        ):
            stopping = [rank_of[other] for other in pending]
            stop_actors(ray, [(actors[r], _stop_where(wheres, r)) for r in stopping])
            for r in stopping:
                outcomes[r] = RankOutcome(rank=r, lost=True, stopped=True, node=wheres[r][0])
            pending = []
    return [outcomes[i] for i in range(len(refs))]


def _rank_outcome(ray: Any, ref: Any, rank: int, node: str) -> RankOutcome:
    """What rank ``rank``'s finished call reported, or that it was lost."""
    try:
        return msgspec.msgpack.decode(ray.get(ref), type=RankOutcome)
    except ray.exceptions.RayError as exc:
        return RankOutcome(
            rank=rank,
            lost=True,
            message=f"rank {rank} was lost (its actor or node died): "
            f"{str(exc).splitlines()[0] if str(exc) else type(exc).__name__}",
            node=node,
        )
