"""``flytekit.extras.accelerators``: GPU kinds for ``@task(accelerator=...)``.

Recorded with the task (``flyte_options``), as on a cluster it picks the node type; a local
run uses this machine. To have Airfoil's scheduler place a task on a GPU kind, give
``requests=Resources(gpu="1")`` and ``accelerator=`` in Airfoil's own ``af.Resources``.
"""

from __future__ import annotations

__all__ = [
    "A10G",
    "A100",
    "A100_80GB",
    "H100",
    "H200",
    "K80",
    "L4",
    "L4_VWS",
    "L40S",
    "M60",
    "P4",
    "P100",
    "T4",
    "V100",
    "BaseAccelerator",
    "GPUAccelerator",
    "MultiInstanceGPUAccelerator",
]


class BaseAccelerator:
    """An accelerator kind, named by its device string."""

    def __init__(self, device: str, partition_size: str | None = None) -> None:
        self.device = device
        self.partition_size = partition_size

    def __repr__(self) -> str:
        part = f", partition_size={self.partition_size!r}" if self.partition_size else ""
        return f"{type(self).__name__}({self.device!r}{part})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, BaseAccelerator) and (self.device, self.partition_size) == (
            other.device,
            other.partition_size,
        )

    def __hash__(self) -> int:
        return hash((self.device, self.partition_size))


class GPUAccelerator(BaseAccelerator):
    """A whole GPU of one kind."""


class MultiInstanceGPUAccelerator(BaseAccelerator):
    """A GPU kind that can be split (``A100.partition_1g_5gb``)."""

    def __getattr__(self, name: str) -> MultiInstanceGPUAccelerator:
        if not name.startswith("partition_"):
            raise AttributeError(name)
        return MultiInstanceGPUAccelerator(self.device, name.removeprefix("partition_"))

    @property
    def unpartitioned(self) -> MultiInstanceGPUAccelerator:
        return MultiInstanceGPUAccelerator(self.device)


A10G = GPUAccelerator("nvidia-a10g")
A100 = MultiInstanceGPUAccelerator("nvidia-tesla-a100")
A100_80GB = MultiInstanceGPUAccelerator("nvidia-a100-80gb")
H100 = MultiInstanceGPUAccelerator("nvidia-h100")
H200 = MultiInstanceGPUAccelerator("nvidia-h200")
K80 = GPUAccelerator("nvidia-tesla-k80")
L4 = GPUAccelerator("nvidia-l4")
L4_VWS = GPUAccelerator("nvidia-l4-vws")
L40S = GPUAccelerator("nvidia-l40s")
M60 = GPUAccelerator("nvidia-tesla-m60")
P4 = GPUAccelerator("nvidia-tesla-p4")
P100 = GPUAccelerator("nvidia-tesla-p100")
T4 = GPUAccelerator("nvidia-tesla-t4")
V100 = GPUAccelerator("nvidia-tesla-v100")
