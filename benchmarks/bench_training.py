"""Distributed training gangs (issue 13 budgets: a 2-worker gang from admitted to all ranks
running <= 5 s; a worker failure to training resumed <= 15 s), on the process executor and on
a local Ray (2 CPUs), in one invocation so the figures share the machine's load.

- gang start: an engine run of a 2-worker training task whose ranks only note the time they
  entered the task's function; from the attempt's start (the gang admitted: the engine handed
  it to the executor's worker) to the later of the two ranks' entry, median of ``--runs``.
  Beside it, the same executor's plain one-process attempt from start to function entry
  (the baseline: what one worker costs).
- resume: a DDP run (torch, gloo, 2 workers, a small MLP, a checkpoint every 4 steps) whose
  rank 1 is SIGKILLed at step 6; from the kill to the first step the restarted gang finishes
  (torch imported, process group formed, checkpoint loaded and one step done), one run each.

    .venv/bin/python benchmarks/bench_training.py [--runs 3] [--executors process,ray]
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import signal
import statistics
import sys
import tempfile
import threading
import time
from typing import Any

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "src"))

from _util import temp_dir

from airfoil.local import LocalRuntime
from airfoil.settings import AirfoilSettings
from airfoil.types import ValueContext

FLOW = """
import os, time
import airfoil as af


def _note(marks, name, text):
    with open(os.path.join(marks, name), "a") as f:
        f.write(text)


@af.training_task(workers=2, resources_per_worker=af.Resources(cpu=1), max_restarts=0)
def gang(marks: str) -> int:
    _note(marks, "entered", f"{os.environ['RANK']} {time.time()}\\n")
    return 0


@af.task
def single(marks: str) -> int:
    _note(marks, "entered", f"0 {time.time()}\\n")
    return 0


@af.training_task(workers=2, resources_per_worker=af.Resources(cpu=1), max_restarts=2)
def ddp(steps: int, marks: str) -> float:
    import torch
    import torch.distributed as dist
    from torch.nn.parallel import DistributedDataParallel

    torch.set_num_threads(1)
    dist.init_process_group("gloo")
    rank = dist.get_rank()
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(8, 32), torch.nn.Tanh(), torch.nn.Linear(32, 1))
    net = DistributedDataParallel(model)
    opt = torch.optim.SGD(net.parameters(), lr=0.05)
    ckpt = af.current_context().checkpoint
    start = 0
    saved = ckpt.load()
    if saved is not None:
        start, state = saved
        model.load_state_dict(state["model"])
        opt.load_state_dict(state["opt"])
    restart = os.environ["AIRFOIL_GANG_RESTART"]
    loss = torch.zeros(())
    for step in range(start, steps):
        gen = torch.Generator().manual_seed(step * 7 + rank)
        x = torch.randn(64, 8, generator=gen)
        opt.zero_grad()
        loss = ((net(x) - torch.sin(x.sum(1, keepdim=True))) ** 2).mean()
        loss.backward()
        opt.step()
        if rank == 0 and (step + 1) % 4 == 0:
            ckpt.save({"model": model.state_dict(), "opt": opt.state_dict()}, step=step + 1)
        _note(marks, f"rank{rank}.steps", f"{restart} {step} {time.time()} {os.getpid()}\\n")
        time.sleep(0.1)
    dist.destroy_process_group()
    return float(loss)


@af.workflow
def gang_wf(marks: str) -> int:
    return gang(marks=marks)


@af.workflow
def single_wf(marks: str) -> int:
    return single(marks=marks)


@af.workflow
def ddp_wf(steps: int, marks: str) -> float:
    return ddp(steps=steps, marks=marks)
"""


class Bench:
    def __init__(self, executor: str, root: str) -> None:
        self.root = root
        self.rt = LocalRuntime(
            AirfoilSettings(home=os.path.join(root, f"home-{executor}"), executor=executor)
        )
        self.engine = self.rt.engine()
        import bench_training_flow as flow

        self.flow = flow

    def run(self, wf: Any, **raw: Any) -> tuple[str, str]:
        marks = tempfile.mkdtemp(dir=self.root)
        raw["marks"] = marks
        ctx = ValueContext(blobs=self.rt.blobs)
        inputs = {k: self.rt.types.to_value(v, type(v), ctx) for k, v in raw.items()}
        eid = self.engine.launch(wf.spec, inputs, code_root=self.root).id
        return eid, marks

    def drive(self, eid: str) -> None:
        record = self.engine.drive(eid)
        if record.phase != "succeeded":
            raise SystemExit(f"run failed: {record.error}")

    def start_to_entry(self, wf: Any) -> float:
        eid, marks = self.run(wf)
        self.drive(eid)
        (attempt,) = self.rt.meta.get_attempts(eid)
        with open(os.path.join(marks, "entered")) as f:
            entered = [float(line.split()[1]) for line in f]
        return max(entered) - attempt.started_at

    def resume(self) -> float:
        eid, marks = self.run(self.flow.ddp_wf, steps=14)
        killed: list[float] = []

        def kill() -> None:
            path = os.path.join(marks, "rank1.steps")
            while True:
                try:
                    with open(path) as f:
                        last = f.read().splitlines()[-1].split()
                except (OSError, IndexError):
                    time.sleep(0.01)
                    continue
                if int(last[1]) >= 6:
                    os.kill(int(last[3]), signal.SIGKILL)
                    killed.append(time.time())
                    return
                time.sleep(0.01)

        killer = threading.Thread(target=kill, daemon=True)
        killer.start()
        self.drive(eid)
        killer.join()
        with open(os.path.join(marks, "rank0.steps")) as f:
            resumed = [float(line.split()[2]) for line in f if line.startswith("1 ")]
        return resumed[0] - killed[0]

    def close(self) -> None:
        self.rt.close()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--executors", default="process,ray")
    args = parser.parse_args()
    root = temp_dir(prefix="airfoil-bench-training-")
    with open(os.path.join(root, "bench_training_flow.py"), "w") as f:
        f.write(FLOW)
    sys.path.insert(0, root)
    logging.getLogger("ray").setLevel(logging.WARNING)
    report: dict[str, dict[str, float]] = {}
    for name in args.executors.split(","):
        bench = Bench(name, root)
        try:
            bench.start_to_entry(bench.flow.single_wf)  # warm the worker and the imports
            single = [bench.start_to_entry(bench.flow.single_wf) for _ in range(args.runs)]
            gang = [bench.start_to_entry(bench.flow.gang_wf) for _ in range(args.runs)]
            resume = bench.resume()
        finally:
            bench.close()
        report[name] = {
            "gang_start_s": statistics.median(gang),
            "single_start_s": statistics.median(single),
            "gang_over_single": statistics.median(gang) / max(statistics.median(single), 1e-9),
            "failure_to_resumed_s": resume,
        }
        print(
            f"{name:8s} gang admitted -> all ranks running {report[name]['gang_start_s']:.2f}s "
            f"(budget 5 s; one plain attempt {report[name]['single_start_s'] * 1e3:.0f} ms, "
            f"x{report[name]['gang_over_single']:.0f}); worker killed -> training resumed "
            f"{resume:.2f}s (budget 15 s)",
            flush=True,
        )
    print(json.dumps(report))


if __name__ == "__main__":
    main()
