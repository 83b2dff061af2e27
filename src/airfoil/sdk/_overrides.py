"""Per-call overrides of a node in a workflow body: ``t(x=1).with_overrides(...)``.

Overrides change the node's copy of the task spec (its resources, retries, timeout,
interruptible flag, caching), not the task: other calls of the same task keep the task's own
settings. Resources, retries, timeout and interruptible do not change the cache key (none of
them change what the task computes); ``cache``, ``cache_version`` and ``cache_serialize`` set the
node's cache policy, as on a Flyte cluster (before 2026-12-06 they were recorded and ignored, so
``cache=False`` on a node still answered from the cache). Settings that
only mean something on a Kubernetes cluster (``container_image``, ``accelerator``,
``pod_template``...) are accepted and recorded on the node while the workflow is built
(:attr:`PendingNode.platform <airfoil.sdk._compile.PendingNode>`); they do not change a local
run.
"""

from __future__ import annotations

from typing import Any

import msgspec

from airfoil.core.errors import ConfigError, DefinitionError
from airfoil.core.records import TaskSpec
from airfoil.core.resources import limit_below_request, parse_duration

__all__ = ["PLATFORM_ONLY", "apply_spec_overrides", "spec_overrides"]

#: Keywords of flytekit's ``with_overrides`` with no meaning for a local run: recorded.
PLATFORM_ONLY = frozenset(
    {
        "container_image",
        "accelerator",
        "pod_template",
        "shared_memory",
        "task_config",
        "ephemeral_storage",
    }
)

#: ``spec_overrides``' keys that set a field of the node's ``CachePolicy``, not of the spec.
_CACHE_FIELDS = {
    "cache_enabled": "enabled",
    "cache_version": "version",
    "cache_serialize": "serialize",
}


def spec_overrides(
    what: str,
    *,
    requests: Any = None,
    limits: Any = None,
    resources: Any = None,
    retries: int | None = None,
    timeout: Any = None,
    interruptible: bool | None = None,
    cache: Any = None,
    cache_version: Any = None,
    cache_serialize: Any = None,
) -> dict[str, Any]:
    """The ``TaskSpec`` fields the given overrides replace (the cache policy's fields under
    ``cache_*`` keys: :func:`apply_spec_overrides` merges them into the task's policy).

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
    out.update(_cache_overrides(what, cache, cache_version, cache_serialize))
    return out


def _cache_overrides(what: str, cache: Any, version: Any, serialize: Any) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if cache is not None and not isinstance(cache, bool):
        # flytekit's Cache(version=, serialize=, ignored_inputs=): caching on, with its settings
        if not (hasattr(cache, "version") and hasattr(cache, "serialize")):
            raise DefinitionError(
                f"{what}: cache= takes True, False or Cache(version=...), not {cache!r}"
            )
        if getattr(cache, "ignored_inputs", ()):
            raise DefinitionError(
                f"{what}: Cache(ignored_inputs=...) cannot be set on one node (the ignored "
                "inputs are part of the task's interface for its cache): give "
                "cache_ignore_input_vars= (or Cache(ignored_inputs=...)) on the @task"
            )
        version = cache.version if cache.version is not None else version
        serialize = bool(cache.serialize) or serialize
        cache = True
    if cache is not None:
        out["cache_enabled"] = cache
    if version is not None:
        if not isinstance(version, str) or not version.strip():
            raise DefinitionError(
                f"{what}: cache_version= takes a non-empty string, not {version!r}"
            )
        out["cache_version"] = version
    if serialize is not None:
        if not isinstance(serialize, bool):
            raise DefinitionError(
                f"{what}: cache_serialize= takes True or False, not {serialize!r}"
            )
        out["cache_serialize"] = serialize
    return out


def apply_spec_overrides(task: TaskSpec, overrides: dict[str, Any]) -> TaskSpec:
    """``task`` with a node's ``spec_overrides`` applied (its cache fields into its policy)."""
    fields = {k: v for k, v in overrides.items() if k not in _CACHE_FIELDS}
    cache = {_CACHE_FIELDS[k]: v for k, v in overrides.items() if k in _CACHE_FIELDS}
    if cache:
        fields["cache"] = msgspec.structs.replace(task.cache, **cache)
    out = msgspec.structs.replace(task, **fields)
    below = limit_below_request(out.requests, out.limits)
    if below is not None:  # an override of one side against the task's other side
        raise DefinitionError(f"task {task.name!r} with its overrides: {below}")
    return out
