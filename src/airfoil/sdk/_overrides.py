"""Per-call overrides of a node in a workflow body: ``t(x=1).with_overrides(...)``.

Overrides change the node's copy of the task spec (its resources, retries, timeout,
interruptible flag), not the task: other calls of the same task keep the task's own settings,
and the cache key does not change (none of these change what the task computes). Settings that
only mean something on a Kubernetes cluster (``container_image``, ``accelerator``,
``pod_template``...) are accepted and recorded on the node while the workflow is built
(:attr:`PendingNode.platform <airfoil.sdk._compile.PendingNode>`); they do not change a local
run.
"""

from __future__ import annotations

from typing import Any

from airfoil.core.errors import ConfigError, DefinitionError
from airfoil.core.resources import parse_duration

__all__ = ["PLATFORM_ONLY", "spec_overrides"]

#: Keywords of flytekit's ``with_overrides`` with no meaning for a local run: recorded.
PLATFORM_ONLY = frozenset(
    {
        "container_image",
        "accelerator",
        "pod_template",
        "shared_memory",
        "task_config",
        "ephemeral_storage",
        "cache_serialize",
        "cache_version",
        "cache",
    }
)


def spec_overrides(
    what: str,
    *,
    requests: Any = None,
    limits: Any = None,
    resources: Any = None,
    retries: int | None = None,
    timeout: Any = None,
    interruptible: bool | None = None,
) -> dict[str, Any]:
    """The ``TaskSpec`` fields the given overrides replace.

    Raises:
        DefinitionError: a value of the wrong kind (named, with what to give instead).
    """
    from airfoil.sdk._resources import Resources

    out: dict[str, Any] = {}
    if resources is not None:
        if requests is not None or limits is not None:
            raise DefinitionError(f"{what}: give resources= or requests=/limits=, not both")
        requests = limits = resources
    for key, value in (("requests", requests), ("limits", limits)):
        if value is None:
            continue
        if not isinstance(value, Resources):
            raise DefinitionError(
                f"{what}: {key}= takes Resources(cpu=..., mem=..., gpu=...), not {value!r}"
            )
        out[key] = value.to_spec()
    if retries is not None:
        if isinstance(retries, bool) or not isinstance(retries, int) or retries < 0:
            raise DefinitionError(f"{what}: retries must be a whole number >= 0, not {retries!r}")
        out["retries"] = retries
    if timeout is not None:
        try:
            out["timeout_s"] = parse_duration(timeout)
        except ConfigError as exc:
            raise DefinitionError(f"{what}: {exc}") from None
    if interruptible is not None:
        out["interruptible"] = bool(interruptible)
    return out
