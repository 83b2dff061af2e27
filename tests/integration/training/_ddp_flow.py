"""A DDP training task used by the training tests: a small MLP on synthetic data, 2 ranks,
gloo, a checkpoint every ``every`` steps. Rank 0 appends each step it runs to
``marks/steps.log`` (attempt, gang start, step, time); each rank writes
``marks/rank<r>.progress`` (its pid, step and its supervisor's pid) so a test can kill it
mid-training."""

from __future__ import annotations

import os
import time

import airfoil as af


def _mark(marks: str, name: str, text: str, append: bool = False) -> None:
    path = os.path.join(marks, name)
    if append:
        with open(path, "a") as f:
            f.write(text)
        return
    tmp = path + f".{os.getpid()}.tmp"
    with open(tmp, "w") as f:
        f.write(text)
    os.replace(tmp, path)


@af.training_task(workers=2, resources_per_worker=af.Resources(cpu=1), max_restarts=2)
def train_mlp(steps: int, every: int, seed: int, delay: float, marks: str) -> float:
    import torch
    import torch.distributed as dist
    from torch.nn.parallel import DistributedDataParallel

    torch.set_num_threads(1)
    _mark(marks, f"rank{os.environ['RANK']}.entered", f"{time.time()}\n")
    dist.init_process_group(os.environ["AIRFOIL_TRAINING_BACKEND"])
    rank, world = dist.get_rank(), dist.get_world_size()
    torch.manual_seed(seed)
    model = torch.nn.Sequential(torch.nn.Linear(8, 32), torch.nn.Tanh(), torch.nn.Linear(32, 1))
    ddp = DistributedDataParallel(model)
    opt = torch.optim.SGD(ddp.parameters(), lr=0.05, momentum=0.9)
    ckpt = af.current_context().checkpoint
    start = 0
    saved = ckpt.load()
    if saved is not None:
        start, state = saved
        model.load_state_dict(state["model"])
        opt.load_state_dict(state["opt"])
    loss_value = float("nan")
    for step in range(start, steps):
        gen = torch.Generator().manual_seed(seed * 100_003 + step * 7 + rank)
        x = torch.randn(64, 8, generator=gen)
        y = torch.sin(x.sum(dim=1, keepdim=True))
        opt.zero_grad()
        loss = ((ddp(x) - y) ** 2).mean()
        loss.backward()
        opt.step()
        total = loss.detach().clone()
        dist.all_reduce(total)
        loss_value = total.item() / world
        if rank == 0:
            tag = f"{af.current_context().attempt} {os.environ['AIRFOIL_GANG_RESTART']}"
            _mark(marks, "steps.log", f"{tag} {step} {time.time()}\n", True)
            if (step + 1) % every == 0:
                ckpt.save({"model": model.state_dict(), "opt": opt.state_dict()}, step=step + 1)
        supervisor = os.environ["AIRFOIL_GANG_SUPERVISOR"].rsplit(":", 1)[1]
        _mark(marks, f"rank{rank}.progress", f"{os.getpid()} {step} {supervisor}\n")
        print(f"rank {rank} step {step} loss {loss_value:.6f}", flush=True)
        time.sleep(delay)
    dist.destroy_process_group()
    return loss_value


@af.workflow
def ddp(steps: int, every: int, seed: int, delay: float, marks: str) -> float:
    return train_mlp(steps=steps, every=every, seed=seed, delay=delay, marks=marks)
