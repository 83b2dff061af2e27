"""The GPU variant of ``_ddp_flow``: DDP over NCCL with each rank on its own GPU (one rank per
GPU the machine has, at most 2), a checkpoint every ``every`` steps. Rank 0 appends each step to
``marks/steps.log`` (attempt, gang start, step); each rank writes ``marks/rank<r>.progress``
(pid, step) and, once, ``marks/rank<r>.device`` (the CUDA device it trained on and the
``CUDA_VISIBLE_DEVICES`` it was given), so a test can check placement and kill it mid-training.
"""

from __future__ import annotations

import os

import airfoil as af


def _gpus() -> int:
    try:
        import torch

        return max(1, min(2, torch.cuda.device_count()))
    except ImportError:  # pragma: no cover - the test skips without torch
        return 1


WORKERS = _gpus()


def _write(path: str, text: str, append: bool = False) -> None:
    if append:
        with open(path, "a") as f:
            f.write(text)
        return
    tmp = f"{path}.{os.getpid()}.tmp"
    with open(tmp, "w") as f:
        f.write(text)
    os.replace(tmp, path)


@af.training_task(
    workers=WORKERS,
    resources_per_worker=af.Resources(cpu=1, gpu=1),
    backend="nccl",
    max_restarts=2,
)
def train_mlp_gpu(steps: int, every: int, seed: int, delay: float, marks: str) -> float:
    import time

    import torch
    import torch.distributed as dist
    from torch.nn.parallel import DistributedDataParallel

    # Deterministic cuBLAS (so a restarted gang's loss equals an uninterrupted run's) needs
    # this before CUDA starts in the process.
    os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
    local_rank = int(os.environ["LOCAL_RANK"])
    device = torch.device("cuda", local_rank)
    torch.cuda.set_device(device)
    dist.init_process_group(os.environ["AIRFOIL_TRAINING_BACKEND"], device_id=device)
    rank, world = dist.get_rank(), dist.get_world_size()
    _write(
        os.path.join(marks, f"rank{rank}.device"),
        f"{torch.cuda.get_device_name(device)}|{os.environ.get('CUDA_VISIBLE_DEVICES', '')}"
        f"|{dist.get_backend()}\n",
    )
    torch.manual_seed(seed)
    torch.use_deterministic_algorithms(True)
    model = torch.nn.Sequential(torch.nn.Linear(8, 64), torch.nn.Tanh(), torch.nn.Linear(64, 1)).to(
        device
    )
    ddp = DistributedDataParallel(model, device_ids=[local_rank])
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
        x = torch.randn(256, 8, generator=gen).to(device)
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
            _write(os.path.join(marks, "steps.log"), f"{tag} {step}\n", True)
            if (step + 1) % every == 0:
                # Saved from the GPU as they are: the restarted gang loads them onto its device.
                ckpt.save({"model": model.state_dict(), "opt": opt.state_dict()}, step=step + 1)
        _write(os.path.join(marks, f"rank{rank}.progress"), f"{os.getpid()} {step}\n")
        print(f"rank {rank} step {step} loss {loss_value:.6f}", flush=True)
        time.sleep(delay)
    dist.destroy_process_group()
    return loss_value


@af.workflow
def ddp_gpu(steps: int, every: int, seed: int, delay: float, marks: str) -> float:
    return train_mlp_gpu(steps=steps, every=every, seed=seed, delay=delay, marks=marks)


@af.training_task(workers=WORKERS + 1, resources_per_worker=af.Resources(gpu=1), backend="nccl")
def one_gang_too_many(x: int) -> int:
    return x


@af.workflow
def too_many_gpus(x: int) -> int:
    return one_gang_too_many(x=x)
