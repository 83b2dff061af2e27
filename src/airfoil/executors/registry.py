"""Executors by name: how an entry point turns ``--executor NAME`` into an :class:`Executor`.

A registry maps a name to a factory that builds the executor from an :class:`ExecutorContext`
(the blob store, how many attempts may run at once, and the runtime that runs attempts).
:func:`default_executors` holds ``inline``, ``process`` and ``ray`` (Ray is an optional extra,
imported only when a ray executor first reaches its cluster); another executor (a cluster's
job queue) plugs in with :meth:`ExecutorRegistry.register` on the registry the entry point
builds its runtime with -- nothing is registered globally at import.

Example:
    >>> registry = default_executors()
    >>> registry.register("queue", lambda ctx: QueueExecutor(ctx.blob_url, ctx.runtime_factory))
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from airfoil.core.blobs import BlobStore
from airfoil.core.errors import ConfigError
from airfoil.executors._blob_cache_config import BlobCacheConfig
from airfoil.executors.base import AttemptRuntime, Executor, RuntimeFactory

__all__ = ["ExecutorContext", "ExecutorFactory", "ExecutorRegistry", "default_executors"]


@dataclass(frozen=True)
class ExecutorContext:
    """What an executor factory is given.

    Attributes:
        blobs: the blob store attempts read inputs from and write outputs to.
        blob_url: its URL (for executors whose workers open it themselves).
        max_parallel: how many attempts may run at once (None: the executor's default).
        runtime: the runtime that runs attempts in this process (in-process executors).
        runtime_factory: builds that runtime inside a worker process (a module-level
            function, pickled by reference).
        durability: what blobs written by workers survive (``process`` or ``power``).
        ray_address: the Ray cluster the ``ray`` executor joins (None: a local Ray).
        blob_cache: how each node of a cluster caches the blobs its workers fetch (None:
            the defaults).
        worker_nice: how much lower the CPU priority of the ``process`` executor's workers
            is than the driving process's (``nice`` increment, 0-19).
    """

    blobs: BlobStore
    blob_url: str
    max_parallel: int | None
    runtime: AttemptRuntime
    runtime_factory: RuntimeFactory
    durability: str = "process"
    ray_address: str | None = None
    blob_cache: BlobCacheConfig | None = None
    worker_nice: int = 0


ExecutorFactory = Callable[[ExecutorContext], Executor]


class ExecutorRegistry:
    """Executor factories by name (a plain object: copy it, add to it, pass it down)."""

    def __init__(self, factories: dict[str, ExecutorFactory] | None = None) -> None:
        self._factories: dict[str, ExecutorFactory] = dict(factories or {})

    def register(self, name: str, factory: ExecutorFactory) -> None:
        """Add (or replace) the executor called ``name``."""
        if not name or not name.replace("-", "").replace("_", "").isalnum():
            raise ConfigError(f"invalid executor name {name!r}: use letters, digits, - and _")
        self._factories[name] = factory

    def names(self) -> list[str]:
        """The registered names, sorted."""
        return sorted(self._factories)

    def create(self, name: str, context: ExecutorContext) -> Executor:
        """A new executor called ``name``.

        Raises:
            ConfigError: no executor has that name.
        """
        factory = self._factories.get(name)
        if factory is None:
            raise ConfigError(
                f"unknown executor {name!r}: use " + " or ".join(repr(n) for n in self.names())
            )
        return factory(context)

    def copy(self) -> ExecutorRegistry:
        return ExecutorRegistry(self._factories)


def _inline(ctx: ExecutorContext) -> Executor:
    from airfoil.executors.inline import InlineExecutor

    return InlineExecutor(ctx.blobs, ctx.runtime)


def _process(ctx: ExecutorContext) -> Executor:
    from airfoil.executors.process import ProcessExecutor

    return ProcessExecutor(
        ctx.blob_url,
        max_workers=ctx.max_parallel,
        runtime=ctx.runtime_factory,
        durability=ctx.durability,
        worker_nice=ctx.worker_nice,
    )


def _ray(ctx: ExecutorContext) -> Executor:
    from airfoil.executors.ray import RayExecutor

    return RayExecutor(
        ctx.blob_url,
        runtime=ctx.runtime_factory,
        address=ctx.ray_address,
        max_workers=ctx.max_parallel,
        durability=ctx.durability,
        blob_cache=ctx.blob_cache,
    )


def default_executors() -> ExecutorRegistry:
    """A new registry holding ``inline``, ``process`` and ``ray``."""
    return ExecutorRegistry({"inline": _inline, "process": _process, "ray": _ray})
