"""User-facing resource requests: ``Resources(cpu="1", mem="512Mi", gpu=1)``."""

from __future__ import annotations

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

    Raises:
        ConfigError: a quantity cannot be parsed.
    """

    cpu: str | float | int | None = None
    mem: str | int | None = None
    gpu: int | str | None = None

    def __post_init__(self) -> None:
        self.to_spec()  # validate early, at decoration time

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
