"""Resource quantities: parsing ``"500m"`` CPUs and ``"512Mi"`` memory into numbers."""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import msgspec

from airfoil.core.errors import ConfigError

__all__ = [
    "LOCAL_RESOURCES_KEY",
    "MAX_DURATION_S",
    "SCHEDULING_POLICIES",
    "ResourceSpec",
    "limit_below_request",
    "parse_cpu",
    "parse_duration",
    "parse_memory",
]

#: The scheduling policies' names (``airfoil.scheduler.policy_names()``, which imports every
#: policy; a test keeps the two equal): checking a setting against them costs no import.
SCHEDULING_POLICIES = frozenset(
    {"fifo", "fifo-skip", "backfill", "fair", "las", "stretch", "airfoil"}
)

#: ``TaskSpec.config`` key of a task whose requests a *local* run treats as hints (value
#: ``"best_effort"``): what this machine cannot give (a GPU on a laptop) is not waited for, with
#: one warning. Tasks defined through ``airfoil.compat.flytekit`` carry it, because flytekit's
#: local runs ignore resource requests; a server or a cluster still honours them.
LOCAL_RESOURCES_KEY = "local_resources"

_MEM_UNITS = {
    "": 1,
    "k": 10**3,
    "m": 10**6,
    "g": 10**9,
    "t": 10**12,
    "ki": 2**10,
    "mi": 2**20,
    "gi": 2**30,
    "ti": 2**40,
}
#: (A pattern string: ``re`` compiles it on first use and caches it; a plain run never
#: needs it, and compiling at import cost every ``airfoil run``: issue 17, W5.)
_MEM_RE = r"^\s*([0-9]*\.?[0-9]+)\s*([kKmMgGtT]i?)?[bB]?\s*$"
_DUR_RE = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h|d)")
_DUR_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}


class ResourceSpec(msgspec.Struct, frozen=True, forbid_unknown_fields=False):
    """Normalised resources: CPU cores, memory bytes, whole GPUs. Zero means "not asked"."""

    cpu: float = 0.0
    mem: int = 0
    gpu: int = 0

    def fits_in(self, other: ResourceSpec) -> bool:
        """Whether every asked quantity is within ``other``'s."""
        return self.cpu <= other.cpu and self.mem <= other.mem and self.gpu <= other.gpu


def limit_below_request(requests: ResourceSpec, limits: ResourceSpec) -> str | None:
    """What is wrong where a limit is set below its request (``mem`` limit 500Mi with a 1G
    request), or None. Kubernetes refuses such a pod and Flyte such a task; a limit or
    request left at zero is not set, so it never conflicts."""
    shown: dict[str, Callable[[Any], str]] = {
        "cpu": lambda v: f"{v:g} cores",
        "mem": lambda v: f"{v} bytes, {v / 2**20:.6g}Mi",
        "gpu": lambda v: f"{v} GPUs",
    }
    for name, show in shown.items():
        asked, cap = getattr(requests, name), getattr(limits, name)
        if asked and cap and cap < asked:
            return (
                f"the {name} limit ({show(cap)}) is smaller than its request ({show(asked)}): "
                "a limit must be at least the request (Kubernetes and Flyte refuse it); raise "
                "the limit or lower the request"
            )
    return None


def parse_cpu(value: str | float | int | None) -> float:
    """Parse CPUs: ``2``, ``"1.5"``, ``"500m"`` (milli-cores).

    Raises:
        ConfigError: the value is not a non-negative CPU quantity.
    """
    if value is None:
        return 0.0
    if isinstance(value, bool):
        raise ConfigError(f"invalid cpu {value!r}: give a number of cores like 2 or '500m'")
    try:
        if isinstance(value, str) and value.strip().endswith("m"):
            cores = float(value.strip()[:-1]) / 1000.0
        else:
            cores = float(value)
    except ValueError:
        raise ConfigError(
            f"invalid cpu {value!r}: give a number of cores like 2, '1.5' or '500m'"
        ) from None
    if not math.isfinite(cores):  # JSON has no NaN or infinity (see parse_duration)
        raise ConfigError(f"invalid cpu {value!r}: must be a finite number of cores")
    if cores < 0:
        raise ConfigError(f"invalid cpu {value!r}: must not be negative")
    return cores


def parse_memory(value: str | int | None) -> int:
    """Parse memory into bytes: ``1024``, ``"512Mi"``, ``"2G"``, ``"1.5Gi"``.

    Raises:
        ConfigError: the value is not a memory quantity.
    """
    if value is None:
        return 0
    if isinstance(value, bool):
        raise ConfigError(f"invalid memory {value!r}: give bytes or a quantity like '512Mi'")
    if isinstance(value, int):
        if value < 0:
            raise ConfigError(f"invalid memory {value!r}: must not be negative")
        return value
    match = re.match(_MEM_RE, str(value))
    if not match:
        raise ConfigError(
            f"invalid memory {value!r}: give bytes or a quantity like '512Mi', '2Gi' or '1G'"
        )
    unit = (match.group(2) or "").lower()
    return int(float(match.group(1)) * _MEM_UNITS[unit])


#: The longest duration (a timeout, a sleep, a wait) in seconds: 100 years. The clock calls
#: that wait it out (``time.sleep``, ``signal.setitimer``, thread waits) overflow past 2**63
#: nanoseconds (about 292 years), and a timeout that long means "no limit": leave it out.
MAX_DURATION_S = 100 * 365.25 * 86400


def parse_duration(value: str | float | int | timedelta | None) -> float | None:
    """Parse a duration into seconds: ``30``, ``"10m"``, ``"1h30m"``, ``"500ms"``.

    Raises:
        ConfigError: the value is not a positive duration of at most
            :data:`MAX_DURATION_S`.
    """
    if value is None:
        return None
    if isinstance(value, bool):
        raise ConfigError(f"invalid duration {value!r}: give seconds or a string like '10m'")
    if isinstance(value, int) and not 0 < value <= MAX_DURATION_S:  # 10**400: past a float
        seconds = float(min(max(value, -1), 2 * MAX_DURATION_S))  # refused below, as it is
    elif isinstance(value, int | float):
        seconds = float(value)
    elif hasattr(value, "total_seconds"):
        seconds = float(value.total_seconds())
    else:
        text = str(value).strip().replace(" ", "")
        pos = 0
        seconds = 0.0
        for match in _DUR_RE.finditer(text):
            if match.start() != pos:
                break
            seconds += float(match.group(1)) * _DUR_UNITS[match.group(2)]
            pos = match.end()
        if pos != len(text) or not text:
            try:
                seconds = float(text)
            except ValueError:
                raise ConfigError(
                    f"invalid duration {value!r}: give seconds or a string like '90s', '10m', "
                    "'1h30m'"
                ) from None
    if not math.isfinite(seconds):
        # JSON has no NaN or infinity: a spec holding one is stored as null and can no
        # longer be read (the run, and every listing of the store's executions, failed).
        raise ConfigError(
            f"invalid duration {value!r}: must be a finite number of seconds (leave the "
            "option out for no limit)"
        )
    if seconds <= 0:
        raise ConfigError(f"invalid duration {value!r}: must be positive")
    if seconds > MAX_DURATION_S:
        raise ConfigError(
            f"invalid duration {value!r}: must be at most 100 years ({MAX_DURATION_S:.0f} "
            "seconds); leave the option out for no limit"
        )
    return seconds
