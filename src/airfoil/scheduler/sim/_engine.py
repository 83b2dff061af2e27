"""Event-driven replay of a trace through a policy, with the engine's own decision code.

The replay keeps one :class:`~airfoil.scheduler.SchedulerState` and moves the clock from
event to event: arrivals, completions, and the times a decision asked to be woken at. At each
instant it applies every completion and arrival, asks the policy once, and applies the
decision exactly as the engine does (preemptions, then starts). Nothing else decides.

Realism knobs (:class:`SimConfig`): ``load`` rescales submit times so the trace's GPU-time
equals ``load`` x the cluster's GPU capacity over the (rescaled) span; ``estimate_error``
makes each job's run-time estimate off by a factor ``2 ** u``, ``u`` uniform in
``[-estimate_error, +estimate_error]`` (so ``1.0`` is "up to 2x either way"), seeded; a
preempted job keeps its progress (checkpointing) but pays ``restart_penalty`` seconds again
when it restarts.
"""

from __future__ import annotations

import heapq
import math
import random
from collections.abc import Callable

import msgspec

from airfoil.core.resources import ResourceSpec
from airfoil.scheduler._errors import SimulationError
from airfoil.scheduler._model import Node, Quota, WorkItem
from airfoil.scheduler._policy import Policy
from airfoil.scheduler._registry import get_policy
from airfoil.scheduler._state import SchedulerState
from airfoil.scheduler.sim._metrics import Metrics, compute_metrics
from airfoil.scheduler.sim._trace import Trace, job_to_item, parse_nodes

__all__ = [
    "DecisionObserver",
    "Progress",
    "SimConfig",
    "SimResult",
    "build_items",
    "check_config",
    "scaled_submits",
    "simulate",
]

Progress = Callable[[int, int], None]
"""Called with ``(jobs finished, jobs in total)`` as the replay advances."""

DecisionObserver = Callable[[float, SchedulerState], None]
"""Called with ``(now, state)`` after each decision of a replay is applied: the state's
``running`` then holds what the decision started at ``now`` (``start == now``) beside what
ran on, and ``waiting`` what it left queued. For tracing a replay (what held the cluster
while a job waited); it must read the state, never change it."""


class SimConfig(msgspec.Struct, frozen=True):
    """How to replay a trace.

    Attributes:
        nodes: the cluster, e.g. ``"8x8gpu"`` (see :func:`parse_nodes`).
        load: rescale submit times to this offered load (``None``: keep the trace's times).
        estimate_error: 0 for exact run-time estimates, 1 for up to 2x off either way.
        seed: seed of the estimate errors.
        restart_penalty: seconds a preempted job loses when it restarts.
        quotas: ``"none"``, or ``"equal"``: every tenant gets an equal nominal share of the
            cluster's GPUs (rounded down) and may borrow the rest.
    """

    nodes: str = "8x8gpu"
    load: float | None = 1.0
    estimate_error: float = 0.0
    seed: int = 0
    restart_penalty: float = 60.0
    quotas: str = "none"


class SimResult(msgspec.Struct, frozen=True):
    """One replay: the metrics and each job's completion time (for plots)."""

    policy: str
    trace: str
    config: SimConfig
    metrics: Metrics
    jct_s: tuple[float, ...]


def check_config(config: SimConfig) -> None:
    """Raise :class:`SimulationError` if an option is out of range."""
    if config.load is not None and not (config.load > 0 and math.isfinite(config.load)):
        raise SimulationError(f"load must be a positive number, got {config.load}")
    if not 0.0 <= config.estimate_error <= 1.0:
        raise SimulationError(f"estimate error must be within 0..1, got {config.estimate_error}")
    if config.restart_penalty < 0:
        raise SimulationError("restart penalty must not be negative")
    if config.quotas not in ("none", "equal"):
        raise SimulationError(f"quotas must be 'none' or 'equal', got {config.quotas!r}")


def scaled_submits(trace: Trace, cluster_gpus: int, load: float | None) -> list[float]:
    """Submit times rescaled to ``load`` (unchanged when ``load`` is ``None``)."""
    submits = [job.submit for job in trace.jobs]
    if load is None or trace.span <= 0:
        return submits
    factor = trace.gpu_seconds / (cluster_gpus * trace.span * load)
    return [s * factor for s in submits]


def build_items(trace: Trace, config: SimConfig, nodes: list[Node]) -> list[WorkItem]:
    """The work items of a trace: rescaled submits, seeded estimate errors, gang shapes."""
    node_gpus = max(node.capacity.gpu for node in nodes)
    submits = scaled_submits(trace, sum(node.capacity.gpu for node in nodes), config.load)
    rng = random.Random(config.seed)
    return [
        job_to_item(
            job,
            submits[j],
            job.duration * 2.0 ** (rng.uniform(-1.0, 1.0) * config.estimate_error),
            node_gpus,
        )
        for j, job in enumerate(trace.jobs)
    ]


def simulate(
    trace: Trace,
    policy: Policy | str,
    config: SimConfig | None = None,
    progress: Progress | None = None,
    observe: DecisionObserver | None = None,
) -> SimResult:
    """Replay ``trace`` through ``policy`` and measure it; ``observe``, if given, sees the
    state after every decision (see :data:`DecisionObserver`).

    Raises:
        SimulationError: a bad option, or a job the cluster can never run.
        UnknownPolicyError: ``policy`` names no policy.
    """
    config = config or SimConfig()
    check_config(config)
    chosen = get_policy(policy) if isinstance(policy, str) else policy
    replay = _Replay(trace, chosen, config)
    replay.run(progress, observe)
    return replay.result()


class _Replay:
    """The mutable bookkeeping of one replay: per-job times, the event heap, the state."""

    def __init__(self, trace: Trace, policy: Policy, config: SimConfig) -> None:
        nodes = parse_nodes(config.nodes)
        self.trace, self.policy, self.config = trace, policy, config
        self.cluster_gpus = sum(node.capacity.gpu for node in nodes)
        self.items = build_items(trace, config, nodes)
        for job, item in zip(trace.jobs, self.items, strict=True):
            if item.gang_size * item.resources.gpu > self.cluster_gpus:
                raise SimulationError(
                    f"job {job.id} needs {job.gpus} GPUs; the cluster has {self.cluster_gpus}"
                )
        self.state = SchedulerState(nodes, policy=policy, quotas=_quotas(trace, config, nodes))
        n = len(self.items)
        self.index = {item.id: j for j, item in enumerate(self.items)}
        self.gpus = [item.gang_size * item.resources.gpu for item in self.items]
        self.submits = [item.submit_time for item in self.items]
        self.remaining = [job.duration for job in trace.jobs]
        self.queued_since = list(self.submits)
        self.started = [0.0] * n
        self.wait = [0.0] * n
        self.finish = [0.0] * n
        self.preemptions = [0] * n
        self.attempt = [0] * n
        self.busy = 0.0
        self.last_submit = max(self.submits, default=0.0)
        self.busy_in_span = 0.0
        self.done = 0
        self.completions: list[tuple[float, int, int]] = []

    def run(self, progress: Progress | None, observe: DecisionObserver | None = None) -> None:
        """Advance from event to event until every job has finished."""
        n = len(self.items)
        arrival = 0
        wake: float | None = None
        every = max(n // 200, 1)
        while self.done < n:
            now = min(
                self.submits[arrival] if arrival < n else math.inf,
                self.completions[0][0] if self.completions else math.inf,
                wake if wake is not None else math.inf,
            )
            if now == math.inf:
                raise SimulationError(
                    f"the replay is stuck with {len(self.state.waiting)} jobs waiting and "
                    "nothing running: a quota or the cluster shape keeps them out forever"
                )
            before = self.done
            self._complete(now)
            if progress is not None and self.done // every != before // every:
                progress(self.done, n)
            while arrival < n and self.submits[arrival] <= now:
                self.state.submit(self.items[arrival])
                arrival += 1
            wake = self._decide(now)
            if observe is not None:
                observe(now, self.state)
        if progress is not None:
            progress(n, n)

    def _complete(self, now: float) -> None:
        while self.completions and self.completions[0][0] <= now:
            _, j, attempt = heapq.heappop(self.completions)
            if attempt != self.attempt[j]:
                continue  # that attempt was preempted
            self.state.finish(self.items[j].id, now)
            self.finish[j] = now
            self._charge(j, now)
            self.done += 1

    def _decide(self, now: float) -> float | None:
        """Ask the policy once and apply its decision exactly as the engine would."""
        decision = self.state.decide(now, explain=False)
        for item_id in decision.preemptions:
            j = self.index[item_id]
            ran = now - self.started[j]
            self._charge(j, now)
            self.remaining[j] = max(self.remaining[j] - ran, 0.0) + self.config.restart_penalty
            self.attempt[j] += 1
            self.preemptions[j] += 1
            self.queued_since[j] = now
        self.state.apply(decision, now)
        for start in decision.starts:
            j = self.index[start.item_id]
            self.wait[j] += now - self.queued_since[j]
            self.started[j] = now
            heapq.heappush(self.completions, (now + self.remaining[j], j, self.attempt[j]))
        return decision.wake_at

    def _charge(self, j: int, now: float) -> None:
        """Count the GPU time of job ``j``'s attempt that ends at ``now``."""
        self.busy += (now - self.started[j]) * self.gpus[j]
        last = self.last_submit
        self.busy_in_span += (min(now, last) - min(self.started[j], last)) * self.gpus[j]

    def result(self) -> SimResult:
        """The metrics of the finished replay."""
        jobs = self.trace.jobs
        metrics = compute_metrics(
            submit=self.submits,
            duration=[job.duration for job in jobs],
            gpus=[job.gpus for job in jobs],
            tenant=[job.tenant for job in jobs],
            finish=self.finish,
            wait=self.wait,
            preemptions=self.preemptions,
            busy_gpu_seconds=self.busy,
            busy_in_span_gpu_seconds=self.busy_in_span,
            cluster_gpus=self.cluster_gpus,
        )
        jct = tuple(f - s for f, s in zip(self.finish, self.submits, strict=True))
        return SimResult(self.policy.name, self.trace.name, self.config, metrics, jct)


def _quotas(trace: Trace, config: SimConfig, nodes: list[Node]) -> dict[str, Quota]:
    """Equal nominal shares of every resource, unlimited borrowing."""
    if config.quotas == "none":
        return {}
    tenants = sorted({job.tenant for job in trace.jobs})
    k = len(tenants)
    nominal = ResourceSpec(
        cpu=sum(node.capacity.cpu for node in nodes) / k,
        mem=sum(node.capacity.mem for node in nodes) // k,
        gpu=sum(node.capacity.gpu for node in nodes) // k,
    )
    return {tenant: Quota(nominal=nominal) for tenant in tenants}
