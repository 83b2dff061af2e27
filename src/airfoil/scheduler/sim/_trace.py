"""Job traces and cluster specs for the simulator.

A trace is a CSV with the columns ``timestamp`` (submit time, ISO ``YYYY-MM-DD HH:MM:SS`` or
seconds), ``duration`` (seconds of run time when run alone), ``num_gpus`` (all needed at
once) and ``cluster`` (the tenant, used as the project); ``gpu_time`` may be present and is
ignored (it is ``duration x num_gpus``). That is the format of the Philly-derived tables.

A nodes spec is ``NxMgpu`` (``8x8gpu``: 8 nodes of 8 GPUs), several joined by ``+``
(``4x8gpu+8x4gpu``). Each node gets 8 CPUs and 64 GiB of memory per GPU; a job asks for 4 CPUs
and 32 GiB per GPU, so GPUs are always the scarce resource, as on a real GPU cluster.
"""

from __future__ import annotations

import csv
import math
import re
from datetime import datetime
from pathlib import Path

import msgspec

from airfoil.core.resources import ResourceSpec
from airfoil.scheduler._errors import SimulationError
from airfoil.scheduler._model import Node, WorkItem

__all__ = [
    "Trace",
    "TraceJob",
    "job_to_item",
    "load_trace",
    "parse_nodes",
]

NODE_CPU_PER_GPU = 8
NODE_MEM_PER_GPU = 64 * 2**30
JOB_CPU_PER_GPU = 4
JOB_MEM_PER_GPU = 32 * 2**30

_NODES_RE = re.compile(r"^\s*(\d+)\s*x\s*(\d+)\s*gpus?\s*$", re.IGNORECASE)
_REQUIRED = ("timestamp", "duration", "num_gpus", "cluster")


class TraceJob(msgspec.Struct, frozen=True):
    """One job of a trace.

    Attributes:
        id: row number, as a string.
        submit: submit time, seconds after the trace's first submit.
        duration: run time when run alone, seconds.
        gpus: GPUs needed at once.
        tenant: the project it belongs to.
    """

    id: str
    submit: float
    duration: float
    gpus: int
    tenant: str


class Trace(msgspec.Struct, frozen=True):
    """Jobs sorted by submit time, the first at 0."""

    name: str
    jobs: tuple[TraceJob, ...]

    @property
    def span(self) -> float:
        """Seconds from the first to the last submit."""
        return self.jobs[-1].submit - self.jobs[0].submit if self.jobs else 0.0

    @property
    def gpu_seconds(self) -> float:
        """Total GPU-time of all jobs."""
        return sum(job.duration * job.gpus for job in self.jobs)

    def split(self, parts: int) -> list[Trace]:
        """Cut the trace into ``parts`` consecutive windows of equal time, each from 0."""
        if parts < 1:
            raise SimulationError("parts must be at least 1")
        width = self.span / parts or 1.0
        windows: list[list[TraceJob]] = [[] for _ in range(parts)]
        for job in self.jobs:
            windows[min(int(job.submit // width), parts - 1)].append(job)
        return [
            Trace(f"{self.name}[{i + 1}/{parts}]", _rebase(jobs))
            for i, jobs in enumerate(windows)
            if jobs
        ]


def _rebase(jobs: list[TraceJob]) -> tuple[TraceJob, ...]:
    t0 = jobs[0].submit
    return tuple(msgspec.structs.replace(job, submit=job.submit - t0) for job in jobs)


def _parse_time(text: str) -> float:
    text = text.strip()
    try:
        return float(text)
    except ValueError:
        return datetime.fromisoformat(text).timestamp()


def load_trace(path: str | Path) -> Trace:
    """Read a trace CSV.

    Raises:
        SimulationError: the file is missing, unreadable, or a row is malformed.
    """
    file = Path(path)
    if not file.is_file():
        raise SimulationError(f"trace file not found: {file}")
    rows: list[tuple[float, float, int, str]] = []
    try:
        with file.open(newline="", encoding="utf-8") as handle:
            reader = csv.DictReader(handle)
            missing = [c for c in _REQUIRED if c not in (reader.fieldnames or ())]
            if missing:
                raise SimulationError(
                    f"{file}: missing column(s) {', '.join(missing)}; a trace needs "
                    f"{', '.join(_REQUIRED)}"
                )
            for line, row in enumerate(reader, start=2):
                try:
                    submit = _parse_time(row["timestamp"])
                    duration = float(row["duration"])
                    gpus = int(float(row["num_gpus"]))
                except (TypeError, ValueError) as exc:
                    raise SimulationError(f"{file}:{line}: bad value ({exc})") from None
                if duration <= 0 or gpus < 0 or not math.isfinite(duration):
                    raise SimulationError(f"{file}:{line}: duration must be > 0 and GPUs >= 0")
                rows.append((submit, duration, gpus, row["cluster"] or "default"))
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise SimulationError(f"cannot read trace {file}: {exc}") from None
    if not rows:
        raise SimulationError(f"{file}: the trace has no jobs")
    order = sorted(range(len(rows)), key=lambda i: (rows[i][0], i))
    t0 = rows[order[0]][0]
    jobs = tuple(
        TraceJob(str(i), rows[i][0] - t0, rows[i][1], rows[i][2], rows[i][3]) for i in order
    )
    return Trace(file.name, jobs)


def parse_nodes(spec: str) -> list[Node]:
    """Nodes from ``"8x8gpu"`` or ``"4x8gpu+8x4gpu"``.

    Raises:
        SimulationError: the spec is malformed or empty.
    """
    nodes: list[Node] = []
    for part in spec.split("+"):
        match = _NODES_RE.match(part)
        if not match:
            raise SimulationError(
                f"bad nodes spec {spec!r}: write COUNTxGPUSgpu, e.g. '8x8gpu' "
                "(several joined by '+')"
            )
        count, gpus = int(match.group(1)), int(match.group(2))
        if count < 1 or gpus < 1:
            raise SimulationError(f"bad nodes spec {spec!r}: counts must be at least 1")
        for _ in range(count):
            capacity = ResourceSpec(
                cpu=float(NODE_CPU_PER_GPU * gpus), mem=NODE_MEM_PER_GPU * gpus, gpu=gpus
            )
            nodes.append(Node(f"node{len(nodes)}", capacity))
    return nodes


def job_to_item(
    job: TraceJob, submit: float, estimate: float, node_gpus: int, interruptible: bool = True
) -> WorkItem:
    """The work item for a trace job.

    A job of at most ``node_gpus`` GPUs is one worker; a larger one is a gang of whole-node
    workers of ``node_gpus`` GPUs each (rounded up).
    """
    gpus = max(job.gpus, 0)
    workers = 1
    per_worker = gpus
    if gpus > node_gpus:
        workers = math.ceil(gpus / node_gpus)
        per_worker = node_gpus
    cpu = float(JOB_CPU_PER_GPU * max(per_worker, 1))
    mem = JOB_MEM_PER_GPU * max(per_worker, 1)
    return WorkItem(
        id=job.id,
        project=job.tenant,
        resources=ResourceSpec(cpu=cpu, mem=mem, gpu=per_worker),
        gang_size=workers,
        interruptible=interruptible,
        submit_time=submit,
        estimate=estimate,
    )
