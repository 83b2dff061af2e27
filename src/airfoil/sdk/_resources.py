"""User-facing resource requests: ``Resources(cpu="1", mem="512Mi", gpu=1)``, and on a
cluster ``Resources(gpu=1, accelerator="A100", custom={"fast_disk": 1})``."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

from airfoil.core.resources import ResourceSpec, parse_cpu, parse_memory

__all__ = ["Resources"]


@dataclass(frozen=True)
class Resources:
    """CPU, memory and GPU a task asks for (``requests``) or may not exceed (``limits``).

    Args:
        cpu: cores: ``1``, ``"1.5"``, ``"500m"``.
        mem: bytes or a quantity: ``"512Mi"``, ``"2Gi"``, ``"1G"``.
        gpu: whole GPUs: ``1`` or ``"4"`` (text, like ``cpu`` and ``mem``).
        accelerator: the kind of accelerator the task needs, as the cluster's nodes declare it
            (Ray's ``accelerator_type``: ``"A100"``, ``"H100"``); requests only.
        custom: other resources the cluster's nodes declare (Ray's custom resources, e.g.
            ``{"fast_disk": 1}``): the task runs only on a node that has them; requests only.
            The ray executor places by them; the machine-local executors ignore them.

    Raises:
        ConfigError: a quantity cannot be parsed, or a custom resource is not a name and a
            positive amount.
    """

    cpu: str | float | int | None = None
    mem: str | int | None = None
    gpu: int | str | None = None
    accelerator: str | None = None
    custom: Mapping[str, float] | None = None

    def __post_init__(self) -> None:
        self.to_spec()  # validate early, at decoration time
        self.custom_spec()

    def custom_spec(self) -> dict[str, float]:
        """The custom resources (with the accelerator as Ray names it), validated.

        Raises:
            ConfigError: a name is empty or reserved, or an amount is not a positive number.
        """
        from airfoil.core.errors import ConfigError

        out: dict[str, float] = {}
        for name, amount in (self.custom or {}).items():
            if not isinstance(name, str) or not name.strip() or name != name.strip():
                raise ConfigError(
                    f"invalid custom resource name {name!r}: give a non-empty name without "
                    'surrounding spaces, like "fast_disk"'
                )
            if name in _RESERVED:
                raise ConfigError(
                    f"custom resource {name!r} is reserved: ask for it with cpu=, mem= or gpu="
                )
            if isinstance(amount, bool) or not isinstance(amount, int | float):
                raise ConfigError(
                    f"invalid amount {amount!r} of custom resource {name!r}: give a number"
                )
            if not math.isfinite(amount) or amount <= 0:
                raise ConfigError(
                    f"invalid amount {amount!r} of custom resource {name!r}: must be positive"
                )
            out[name] = float(amount)
        if self.accelerator is not None:
            kind = self.accelerator.strip() if isinstance(self.accelerator, str) else ""
            if not kind or any(c.isspace() for c in kind):
                raise ConfigError(
                    f'invalid accelerator {self.accelerator!r}: give its kind, like "A100"'
                )
        return out

    def to_spec(self) -> ResourceSpec:
        """The normalised record (cores, bytes, GPUs)."""
        from airfoil.core.errors import ConfigError

        gpu: object = self.gpu or 0
        if isinstance(gpu, str) and gpu.strip().isdigit():
            gpu = int(gpu.strip())
        if isinstance(gpu, bool) or not isinstance(gpu, int) or gpu < 0:
            raise ConfigError(
                f'invalid gpu {self.gpu!r}: give a whole number of GPUs, like 1 or "4"'
            )
        return ResourceSpec(cpu=parse_cpu(self.cpu), mem=parse_memory(self.mem), gpu=gpu)


#: Resources Ray (and Airfoil) name themselves: asked for with cpu=, mem= and gpu=.
_RESERVED = frozenset({"CPU", "GPU", "memory", "object_store_memory", "cpu", "gpu", "mem"})
