"""What every service works with: :class:`Deps`, the server's one runtime and its tables.

The runtime (:class:`airfoil.local.Runtime`: stores, executors, codecs, clock, hooks, and
the launcher) is built once when the app starts (``_app._open``) and shared by the API's
threads and the driver slots; nothing here opens a store or builds an engine per request.
"""

from __future__ import annotations

import threading
import uuid
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import NamedTuple

import msgspec

from airfoil.core.clock import Clock
from airfoil.core.errors import InvalidInputError, NotFoundError
from airfoil.core.projects import domain_problem
from airfoil.core.records import AttemptRecord, ExecutionHead, ExecutionRecord, NodeRecord
from airfoil.engine.launcher import Launcher
from airfoil.local import Runtime
from airfoil.server._driver import Driver
from airfoil.server._engine_process import EngineProcess
from airfoil.server._launch_specs import LaunchSpecs
from airfoil.server._registry import Registry
from airfoil.store.base import BlobStore, MetaStore
from airfoil.types import TypeEngine, ValueContext

__all__ = ["Deps", "KeptDetail", "check_domain", "get_record", "own_only"]


class KeptDetail(NamedTuple):
    """An execution's detail as last answered (``Deps.detail_cache``).

    Attributes:
        project: the execution's project.
        seq: the newest event's seq the answer reflects.
        data: the answer's JSON.
        interrupted: whether it showed the execution interrupted.
        record: the record it was built from.
        nodes: node id -> (the node as shown, its attempts as shown, its JSON): what the
            next build reuses for each node whose record and attempts are unchanged.
        etag: the answer's entity tag.
    """

    project: str
    seq: int
    data: bytes
    interrupted: bool
    record: ExecutionRecord
    nodes: dict[str, tuple[NodeRecord, tuple[AttemptRecord, ...], msgspec.Raw]]
    etag: str


@dataclass
class Deps:
    """What services work with.

    Attributes:
        runtime: the server's runtime (its ``stores.registry`` is :attr:`registry`).
        registry: the server's tables: the registry store plus API keys (its secrets,
            when the server has a key, are the runtime's ``stores.secrets``).
        driver: the driver slots, or the engine process running them (None: this process
            serves the API only).
    """

    runtime: Runtime
    registry: Registry
    driver: Driver | EngineProcess | None = None
    #: execution id -> its detail as last answered
    detail_cache: OrderedDict[str, KeptDetail] = field(default_factory=OrderedDict)
    detail_lock: threading.Lock = field(default_factory=threading.Lock)
    #: this process's part of the details' entity tags (another process may answer otherwise)
    detail_tag: str = field(default_factory=lambda: uuid.uuid4().hex[:12])
    #: the decoded specs of the registered versions launched (kept by version)
    launch_specs: LaunchSpecs = field(init=False)

    def __post_init__(self) -> None:
        self.launch_specs = LaunchSpecs(self.registry)

    @property
    def meta(self) -> MetaStore:
        return self.runtime.meta

    @property
    def blobs(self) -> BlobStore:
        return self.runtime.blobs

    @property
    def blob_url(self) -> str:
        return self.runtime.blob_url

    @property
    def types(self) -> TypeEngine:
        return self.runtime.types

    @property
    def clock(self) -> Clock:
        return self.runtime.clock

    @property
    def launcher(self) -> Launcher:
        """The server's launcher (one per process; driving is the slots')."""
        return self.runtime.launcher

    def value_ctx(self) -> ValueContext:
        return ValueContext(blobs=self.blobs)

    def launched(self) -> None:
        """Wake the driver slots: an execution was written."""
        if self.driver is not None:
            self.driver.notify()


def check_domain(domain: str) -> None:
    problem = domain_problem(domain)
    if problem is not None:
        raise InvalidInputError(problem)


def own_only(_project: str) -> bool:
    """The default read check of another project's packages and uploads: none readable."""
    return False


def get_record(d: Deps, project: str, execution_id: str) -> ExecutionRecord:
    rec = d.meta.get_execution(execution_id)
    if rec.project != project:
        raise NotFoundError(f"execution {execution_id!r} does not exist in project {project!r}")
    return rec


def get_head(d: Deps, project: str, execution_id: str) -> ExecutionHead:
    """:func:`get_record` without the spec, inputs and outputs: for a check that the
    execution exists in ``project`` and a look at its phase (the console's and the client's
    polls), a few hundred bytes read instead of the whole record."""
    head = d.meta.get_execution_head(execution_id)
    if head.project != project:
        raise NotFoundError(f"execution {execution_id!r} does not exist in project {project!r}")
    return head
