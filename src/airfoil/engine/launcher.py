"""Launching, apart from driving: check a workflow can run, and write its new execution.

A :class:`Launcher` is built once per runtime (once per server process, once per local
runtime) and shared by every thread: it holds no executor and no state of its own. Launching
is: flatten the spec, check every task's resource requests against the capacity and every
requested secret against the project's secrets, build the new execution's state machine,
handle ``Launch`` (and ``Recover`` for a recovery) and write the result in one transaction.
Driving is the engine's loop (:class:`~airfoil.engine.runner.Engine`), which may run in
another thread or another process (a server's driver slots claim what was launched).

Inputs arrive already bound (see :func:`airfoil.types.bind_inputs`).

Invariant: a launch writes all of its records or none (one ``MetaStore.write``); a kill
between a recovery's launch and its reuse of the old nodes cannot happen.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

from airfoil.core.clock import Clock
from airfoil.core.errors import ConfigError, ConflictError, NotFoundError
from airfoil.core.ids import new_execution_id
from airfoil.core.phases import AttemptPhase, ExecutionPhase, NodeKind, NodePhase
from airfoil.core.records import ExecutionRecord, TaskSpec, Value, WorkflowSpec
from airfoil.engine import state as sm
from airfoil.engine._drive_support import holder_is_dead, holder_is_running, process_owner
from airfoil.engine._mapping import split_item_id
from airfoil.engine._requests import asks_for_resources
from airfoil.engine._scope_gate import SHARED, ScopeGate
from airfoil.engine.graph import FlatNode, GraphCache
from airfoil.store._taken import ExecutionIdTaken, execution_taken
from airfoil.store.base import MetaStore
from airfoil.store.stores import SecretSource, secret_env_name

__all__ = ["CapacityCheck", "Launcher", "load_state", "take_lease"]

#: How many generated ids a launch tries before it gives up (48 random bits a millisecond:
#: a second collision in a row means the id source is broken, not unlucky).
_ID_TRIES = 3


def _exists(meta: MetaStore, execution_id: str) -> bool:
    try:
        meta.get_execution_head(execution_id)
    except NotFoundError:
        return False
    return True


class CapacityCheck(Protocol):
    """What a launch checks resource requests with (a
    :class:`~airfoil.engine._resources.ResourceQueue`)."""

    def check(self, task: TaskSpec, node_id: str, project: str) -> None:
        """Raise ``UnschedulableTaskError`` if the task could never start."""
        ...


class Launcher:
    """Writes new executions (see the module docstring).

    Args:
        meta: the metadata store executions are written to.
        clock: the clock their times come from.
        capacity: gives the resource check of the executor named (the queue its attempts
            are admitted through: a machine's, or a cluster's); called only when a task asks
            for resources, so a runtime whose tasks never do builds no queue.
        secrets: the secrets launches check requested ones against.
        executor: the executor name recorded on executions (the one that will drive them).
        retry_backoff_s: the base of the retry backoff of the state machines built here.
        secrets_hint: how to set a missing secret, in the error (default: the environment
            variable, or the server).
        cache_scopes_declared_only: refuse a task's shared cache scope that no admin
            declared (a server's); declared scopes are checked either way.
        new_id: makes the id of an execution launched without one.
    """

    def __init__(
        self,
        meta: MetaStore,
        *,
        clock: Clock,
        capacity: Callable[[str], CapacityCheck],
        secrets: SecretSource,
        executor: str,
        retry_backoff_s: float = 0.05,
        secrets_hint: str = "",
        cache_scopes_declared_only: bool = False,
        new_id: Callable[[], str] = new_execution_id,
    ) -> None:
        self.meta = meta
        self.new_id = new_id
        self.cache_scopes_declared_only = cache_scopes_declared_only
        self.clock = clock
        self._capacity = capacity
        self.secrets = secrets
        self.executor = executor
        self.retry_backoff_s = retry_backoff_s
        self.secrets_hint = secrets_hint
        #: The lease holder name of this launcher's aborts.
        self.owner = process_owner()
        #: the flattened graphs of the workflow versions launched (a server launches many
        #: executions of one version: each would flatten its spec again)
        self.graphs = GraphCache()

    def new_state(
        self,
        spec: WorkflowSpec,
        inputs: dict[str, Value],
        *,
        project: str = "default",
        domain: str = "development",
        execution_id: str | None = None,
        code_root: str = "",
        labels: dict[str, str] | None = None,
        executor: str | None = None,
        name: str | None = None,
        idempotency: tuple[str, str] = ("", ""),
    ) -> sm.RunState:
        """The state of a new execution after ``Launch``, its batch not yet written.

        ``name`` is the name its project addresses it by, unique within ``(project,
        domain)`` only: the execution gets a new, globally unique id either way, so a name
        another project uses is never refused (nor learned). ``execution_id`` sets the id
        itself (which is then its name too: tests and internal callers). ``idempotency``:
        the launch request's idempotency key and digest (the server's launch route).

        Raises:
            ConflictError: the project has an execution of that name in that domain (or one
                with that id exists), or ``name`` is the id of another of its executions.
            UnschedulableTaskError: a task asks for more than there could ever be.
            ConfigError: a task requests a secret the project does not have.
            CacheScopeAccessError: a task's ``cache_scope=`` is one the project may not use.
            InvalidInputError: an input of the workflow has no value and no default.
        """
        inputs = _with_defaults(spec, inputs)
        exec_id = execution_id or self.new_id()
        if name is not None and name != exec_id:
            rows = self.meta.find_executions(project, name)
            taken = any(r[1] == domain and r[2] == name for r in rows)
            if not taken and any(r[0] == name for r in rows):
                # Commands resolve a name before an id: this name would hide that run
                # from every command, link and answer that names it by its id.
                raise ConflictError(
                    f"{name!r} is the id of another execution of project {project!r}: a run "
                    "named so would hide that one from every command that takes its id; "
                    "choose another --name"
                )
        else:  # the id is the name: a given one is taken if either is
            name = ""
            # A generated id is not looked up (a round trip on every launch): 48 random bits
            # a millisecond make it new, and were it not, the launch's first event (its
            # execution and seq) exists already and the batch fails whole (ConflictError):
            # no execution is overwritten.
            taken = execution_id is not None and (
                _exists(self.meta, exec_id) or self.meta.name_taken(project, domain, exec_id)
            )
        if taken:
            raise execution_taken(project, domain, name or exec_id)
        graph = self.graphs.graph(spec)
        self._check_capacity(graph, project, executor or self.executor)
        self._check_secrets(graph, project)
        self._check_cache_scopes(graph, project)
        record = ExecutionRecord(
            id=exec_id,
            workflow=spec.name,
            version=spec.version,
            phase=ExecutionPhase.QUEUED.value,
            spec=spec,
            inputs=inputs,
            created_at=self.clock.now(),
            project=project,
            domain=domain,
            executor=executor or self.executor,
            code_root=code_root,
            labels=labels or {},
            name=name,
            idempotency_key=idempotency[0],
            request_digest=idempotency[1],
        )
        state = sm.RunState(record, graph=graph, retry=sm.RetryPolicy(base_s=self.retry_backoff_s))
        state.handle(sm.Launch(record.created_at))
        return state

    def launch(
        self,
        spec: WorkflowSpec,
        inputs: dict[str, Value],
        *,
        project: str = "default",
        domain: str = "development",
        execution_id: str | None = None,
        code_root: str = "",
        labels: dict[str, str] | None = None,
        executor: str | None = None,
        name: str | None = None,
        idempotency: tuple[str, str] = ("", ""),
    ) -> sm.RunState:
        """Write a new execution (phase ``queued``) with bound inputs; its state, as
        committed (an engine in this process may drive it without reading it back).

        Raises:
            ConflictError: see :meth:`new_state`; an id this launcher generated that is
                taken is not one: the launch is written under a new id.
            IdempotencyKeyTaken: another execution of the project holds the idempotency key
                (a launch with it that won the race); nothing was written.
        """

        def make() -> sm.RunState:
            return self.new_state(
                spec,
                inputs,
                project=project,
                domain=domain,
                execution_id=execution_id,
                code_root=code_root,
                labels=labels,
                executor=executor,
                name=name,
                idempotency=idempotency,
            )

        return self._write_new(make, generated=execution_id is None)

    def _write_new(self, make: Callable[[], sm.RunState], *, generated: bool) -> sm.RunState:
        """Write the launch ``make`` builds; when its id was ``generated`` here and the write
        finds it taken (never looked up before: a round trip on every launch for 48 random
        bits a millisecond), build and write it again under a new id."""
        taken: list[str] = []
        while True:
            state = make()
            try:
                self.meta.write(state.take_batch())
            except ExecutionIdTaken:
                if not generated:
                    raise
                taken.append(state.execution.id)
                if len(taken) >= _ID_TRIES:
                    raise ConflictError(
                        f"the {len(taken)} execution ids generated for this launch "
                        f"({', '.join(taken)}) were all taken: the id source repeats itself "
                        "(a clock set back and a broken random source); launch again, or "
                        "give the run a name (--name)"
                    ) from None
                continue
            return state

    def relaunch(
        self, execution_id: str, *, new_id: str | None = None, executor: str | None = None
    ) -> ExecutionRecord:
        """A new execution of the same workflow version with the same inputs, project and
        domain (driven by ``executor``, default the old one's), named ``new_id`` if given."""
        old = self.meta.get_execution(execution_id)
        again = _again(old, "relaunch_of", new_id, executor)
        return self.launch(old.spec, old.inputs, **again).execution

    def recover(
        self, execution_id: str, *, new_id: str | None = None, executor: str | None = None
    ) -> ExecutionRecord:
        """A new execution of a failed one that reuses the outputs of every node that had
        succeeded (and of every finished map item) and runs only from the failure on.

        Raises:
            ConfigError: the execution has not ended in failure (or abort).
        """
        old = self.meta.get_execution(execution_id)
        if old.phase not in (ExecutionPhase.FAILED.value, ExecutionPhase.ABORTED.value):
            raise ConfigError(
                f"execution {execution_id} is {old.phase}: only failed or aborted executions "
                "can be recovered (use relaunch to run it again)"
            )
        old_nodes = self.meta.get_nodes(old.id)
        maps = {n.node_id for n in old_nodes if n.kind == NodeKind.MAP}
        items = [
            a
            for a in self.meta.get_attempts(old.id)
            if a.phase == AttemptPhase.SUCCEEDED.value
            and (parsed := split_item_id(a.node_id)) is not None
            and parsed[0] in maps
        ]
        reused = [n for n in old_nodes if n.phase == NodePhase.SUCCEEDED.value]

        again = _again(old, "recovered_from", new_id, executor)

        def make() -> sm.RunState:
            state = self.new_state(old.spec, old.inputs, **again)
            launched = state.seq  # the launch's entry causes the reuse
            state.handle(sm.Recover(old.id, reused, items, self.clock.now(), cause=launched))
            return state  # the launch and the reuse: one batch, one transaction

        return self._write_new(make, generated=True).execution

    def abort(
        self,
        execution_id: str,
        reason: str = "aborted by user",
        *,
        owner: str | None = None,
        lease_ttl_s: float = 30.0,
    ) -> ExecutionRecord:
        """Abort an execution that no engine is driving (its lease taken for the write).

        Raises:
            ConflictError: an engine drives it (ask that one to stop: the control inbox).
        """
        owner = owner or self.owner
        take_lease(self.meta, execution_id, owner, self.clock.now(), lease_ttl_s)
        try:
            state = load_state(self.meta, execution_id, self.retry_backoff_s)
            state.handle(sm.Abort(reason, self.clock.now()))
            batch = state.take_batch()
            batch.lease = (execution_id, owner)
            self.meta.write(batch)
            return state.execution
        finally:
            self.meta.release_lease(execution_id, owner)

    def _check_secrets(self, graph: dict[str, FlatNode], project: str) -> None:
        wanted: dict[str, str] = {}
        for node in graph.values():
            if node.task is None:
                continue
            for name in node.task.secret_requests:
                wanted.setdefault(name, node.task.name)
        if not wanted:
            return
        found = self.secrets.get_many(project, tuple(wanted))
        for name, task_name in wanted.items():
            if name not in found:
                hint = self.secrets_hint or (
                    f"export {secret_env_name(name)}=..., or store it with `airfoil secrets "
                    f"set {name} --project {project}` (encrypted with AIRFOIL_SECRETS_KEY)"
                )
                raise ConfigError(
                    f"task {task_name!r} requests secret {name!r}, which is not set: {hint}"
                )

    def _check_cache_scopes(self, graph: dict[str, FlatNode], project: str) -> None:
        """Fail at launch a task whose shared cache scope the project may not use (the
        engine checks every lookup again: a dynamic graph's tasks, a revocation since)."""
        gate: ScopeGate | None = None
        for node in graph.values():
            task = node.task
            if task is not None and task.cache.enabled and task.cache.scope:
                gate = gate or ScopeGate(
                    self.meta, project, declared_only=self.cache_scopes_declared_only
                )
                gate.check(SHARED + task.cache.scope, task.name)

    def _check_capacity(self, graph: dict[str, FlatNode], project: str, executor: str) -> None:
        """Fail at launch a task that could never start (see ``ResourceQueue.check``)."""
        check: CapacityCheck | None = None
        for node in graph.values():
            if node.task is not None and asks_for_resources(node.task):
                check = check or self._capacity(executor)
                check.check(node.task, node.id, project)


def take_lease(
    meta: MetaStore,
    execution_id: str,
    owner: str,
    now: float,
    ttl_s: float,
    claimed_at: float | None = None,
) -> None:
    """Take an execution's lease for ``owner`` (also from a holder of this host that died,
    never from one that still runs, even past its lease: see ``holder_is_running``).

    ``claimed_at``: when ``owner`` took the lease itself for ``ttl_s`` (the clock's time
    just before a server's ``claim_execution``): it is taken again only if a third of the
    TTL (a heartbeat's period) has passed since, so a fresh claim costs no second take.

    Raises:
        ConflictError: another live engine holds it, or held it and still runs.
    """
    if claimed_at is not None and now - claimed_at < ttl_s / 3:
        return  # the claim holds it, for longer than the drive's first renewal needs
    holder = meta.get_lease(execution_id)
    if holder is not None and holder[0] != owner and holder[1] <= now:
        pid = holder_is_running(*holder)
        if pid is not None:
            raise ConflictError(
                f"execution {execution_id} is being driven by another engine, process {pid} "
                f"of this host: it still runs although its lease lapsed {now - holder[1]:.0f}s "
                "ago (a task in C code that holds the GIL keeps its heartbeat from running); "
                f"wait for it to finish, or stop that process (kill {pid}) and try again"
            )
    if meta.acquire_lease(execution_id, owner, now, ttl_s):
        return
    holder = meta.get_lease(execution_id)
    if holder is not None and holder_is_dead(holder[0]):
        meta.release_lease(execution_id, holder[0])
        if meta.acquire_lease(execution_id, owner, now, ttl_s):
            return
    raise ConflictError(
        f"execution {execution_id} is being driven by another engine; wait for it to "
        "finish, or for its lease to expire if that process died"
    )


def load_state(
    meta: MetaStore,
    execution_id: str,
    retry_backoff_s: float,
    graphs: GraphCache | None = None,
) -> sm.RunState:
    """Rebuild an execution's state machine from the store (its graph from ``graphs`` when
    that holds the execution's workflow version already)."""
    # One read where the store can (``view_execution``: one statement on SQL, one
    # snapshot): the record, every node and attempt, and the newest event's seq, not the
    # event log itself (four statements before, the last reading every event for its seq).
    view = meta.view_execution(execution_id)
    record = view.execution
    assert isinstance(record, ExecutionRecord)  # ``full``: the record, never the head
    assert view.nodes is not None and view.attempts is not None  # after_seq -1: always read
    return sm.RunState(
        record,
        {n.node_id: n for n in view.nodes},
        {(a.node_id, a.attempt): a for a in view.attempts},
        last_seq=view.last_seq,
        retry=sm.RetryPolicy(base_s=retry_backoff_s),
        graph=graphs.graph(record.spec) if graphs is not None else None,
    )


def _again(
    old: ExecutionRecord, label: str, name: str | None, executor: str | None
) -> dict[str, Any]:
    """The launch arguments of a new execution of ``old`` (a relaunch, a recovery): its
    project, domain, code and labels, ``label`` naming ``old``; named ``name`` if given,
    driven by ``executor`` (default the old one's)."""
    return {
        "project": old.project,
        "domain": old.domain,
        "name": name,
        "code_root": old.code_root,
        "labels": {**old.labels, label: old.id},
        "executor": executor or old.executor or None,
    }


def _with_defaults(spec: WorkflowSpec, inputs: dict[str, Value]) -> dict[str, Value]:
    """``inputs`` with the workflow's defaults for those not given, bound by the input
    binder's rule: callers that bind inputs (the CLI, the server, a call) give every one,
    but an engine's own caller may leave a defaulted one out, which the run would otherwise
    fail on at its start as an engine bug.

    Raises:
        InvalidInputError: an input has neither a value nor a default.
    """
    if all(p.name in inputs for p in spec.interface.inputs):
        return inputs
    from airfoil.types import InputBinder, ValueContext, default_type_engine

    binder = InputBinder(
        f"workflow {spec.name}", spec.interface, default_type_engine(), ValueContext.inline_only()
    )
    return binder.fill_defaults(inputs)
