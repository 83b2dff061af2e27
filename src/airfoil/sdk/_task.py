"""``@task``: typed, immutable, still-callable task definitions."""

from __future__ import annotations

import copy
import functools
import inspect
import re
import sys
import threading
import weakref
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Generic, ParamSpec, TypeVar, overload

import msgspec

from airfoil.core.errors import ConfigError, DefinitionError
from airfoil.core.ids import stable_hash
from airfoil.core.records import CachePolicy, TaskSpec, encode_json
from airfoil.core.resources import ResourceSpec, limit_below_request, parse_duration
from airfoil.core.secret_names import secret_name_problem
from airfoil.sdk import _compile
from airfoil.sdk._entity import call_entity, entity_module, type_engine
from airfoil.sdk._interface import PyInterface, build_interface
from airfoil.sdk._resources import Resources
from airfoil.sdk._versioning import CodeVersion, compute_version, defining, with_config

__all__ = ["TaskDef", "live_task", "task", "task_of_type"]

# Task definitions alive in this process, by (module, qualname): lets the in-process runtime
# find tasks defined inside functions (which no import can reach). Weak: it keeps nothing alive.
_SPEC_LOCK = threading.RLock()
_SCOPE = re.compile(r"[A-Za-z0-9._-]{1,100}")
_LIVE: weakref.WeakValueDictionary[tuple[str, str], TaskDef[..., Any]] = (
    weakref.WeakValueDictionary()
)


def live_task(module: str, qualname: str) -> TaskDef[..., Any] | None:
    """The live definition of a task in this process, if any."""
    return _LIVE.get((module, qualname))


P = ParamSpec("P")
R = TypeVar("R")


class TaskDef(Generic[P, R]):
    """A task: a typed Python function that runs as one node of a workflow.

    Calling it inside a workflow body records a node and returns promises; calling it anywhere
    else runs it through the engine (recorded and cached like any run) and returns its value.
    Use :meth:`run_python` to call the plain function without the engine.
    """

    def __init__(
        self,
        fn: Callable[P, R],
        *,
        name: str | None,
        cache: bool,
        cache_version: str | None,
        cache_serialize: bool,
        cache_ignore_inputs: Sequence[str],
        cache_scope: str = "",
        retries: int,
        system_retries: int,
        timeout: Any,
        requests: Resources | None,
        limits: Resources | None,
        interruptible: bool,
        environment: dict[str, str] | None,
        secret_requests: Sequence[str],
        docs: str | None,
    ) -> None:
        if not callable(fn) or not inspect.isfunction(fn):
            raise DefinitionError(f"@task decorates a function, not {fn!r}")
        self.__airfoil_fn__: Callable[P, R] = fn
        functools.update_wrapper(self, fn)
        self.module = entity_module(fn)
        self.name = name or f"{self.module}.{fn.__qualname__}"
        location = f"{fn.__code__.co_filename}:{fn.__code__.co_firstlineno}"
        if not isinstance(self.name, str):
            raise DefinitionError(
                f"@task(name=...) takes a string, not {self.name!r}", location=location
            )
        for setting, count in (("retries", retries), ("system_retries", system_retries)):
            if isinstance(count, bool) or not isinstance(count, int) or count < 0:
                raise DefinitionError(
                    f"task {self.name!r}: {setting} must be a whole number >= 0, got {count!r}",
                    location=location,
                )
        try:
            timeout_s = parse_duration(timeout)
        except ConfigError as exc:
            raise DefinitionError(f"task {self.name!r}: {exc}", location=location) from None
        # Stored in the spec as strings: another type would be written and then fail every
        # read of the spec back (each run of the task, and listing the home's executions).
        if cache_version is not None and not isinstance(cache_version, str):
            raise DefinitionError(
                f"task {self.name!r}: cache_version must be a string, e.g. "
                f"cache_version={str(cache_version)!r}, not {cache_version!r}",
                location=location,
            )
        if environment is not None and not (
            isinstance(environment, dict)
            and all(isinstance(k, str) and isinstance(v, str) for k, v in environment.items())
        ):
            raise DefinitionError(
                f"task {self.name!r}: environment takes a dict of strings to strings, e.g. "
                f"environment={{'THREADS': '4'}}, not {environment!r}",
                location=location,
            )
        self.py_interface: PyInterface = build_interface(
            fn,
            type_engine(),
            kind="task",
            name=self.name,
            literal_value=lambda v, tp, _n: _compile.literal_value(type_engine(), v, tp),
        )
        if isinstance(cache_ignore_inputs, str):  # one input's name, not its letters
            cache_ignore_inputs = (cache_ignore_inputs,)
        inputs = self.py_interface.input_types
        unknown = [i for i in cache_ignore_inputs if i not in inputs]
        if unknown:
            raise DefinitionError(
                f"task {self.name!r}: cache_ignore_inputs names unknown inputs {unknown} "
                f"(its inputs: {', '.join(inputs) or 'none'})",
                location=location,
            )
        if cache_serialize and not cache:
            raise DefinitionError(
                f"task {self.name!r}: cache_serialize=True needs cache=True", location=location
            )
        if cache_scope and (not cache or not _SCOPE.fullmatch(cache_scope)):
            raise DefinitionError(
                f"task {self.name!r}: cache_scope={cache_scope!r} needs cache=True and a name of "
                "1-100 letters, digits, '.', '_' or '-'",
                location=location,
            )
        if limits is not None and (limits.custom or limits.accelerator):
            raise DefinitionError(
                f"task {self.name!r}: custom resources and accelerators are requests, not "
                "limits: give them in requests=Resources(...)",
                location=location,
            )
        below = limit_below_request(
            requests.to_spec() if requests else ResourceSpec(),
            limits.to_spec() if limits else ResourceSpec(),
        )
        if below is not None:
            raise DefinitionError(f"task {self.name!r}: {below}", location=location)
        if isinstance(secret_requests, str):  # one secret's name, not its letters
            secret_requests = (secret_requests,)
        for secret in secret_requests:
            problem = secret_name_problem(secret)
            if problem is not None:  # the store holds no such name: never found at run time
                raise DefinitionError(
                    f"task {self.name!r}: secret_requests has an {problem}", location=location
                )
        extra: dict[str, Any] = {}
        if requests is not None and requests.custom:
            extra["custom_resources"] = requests.custom_spec()
        if requests is not None and requests.accelerator:
            extra["accelerator"] = requests.accelerator.strip()
        self._options = dict(
            **extra,
            cache=CachePolicy(
                enabled=cache,
                version=cache_version or "",
                serialize=cache_serialize,
                ignore_inputs=tuple(cache_ignore_inputs),
                scope=cache_scope,
            ),
            retries=retries,
            system_retries=system_retries,
            timeout_s=timeout_s,
            requests=requests.to_spec() if requests else ResourceSpec(),
            limits=limits.to_spec() if limits else ResourceSpec(),
            interruptible=interruptible,
            environment=dict(environment or {}),
            secret_requests=tuple(secret_requests),
            docs=docs if docs is not None else inspect.cleandoc(fn.__doc__ or ""),
        )
        _check_spec_types(self.name, self._options, location)
        self._spec: TaskSpec | None = None
        self._code_version: CodeVersion | None = None
        self.is_async = inspect.iscoroutinefunction(fn)
        self._node_label: str | None = None
        self._mock: Callable[..., Any] | None = None  # see airfoil.sdk._mocking
        self.fn_qualname: str = fn.__qualname__
        _LIVE[(self.module, fn.__qualname__)] = self
        policy = self._options["cache"]
        if isinstance(policy, CachePolicy) and policy.enabled and not policy.version:
            # Warn at the definition about what the code version cannot see (only where it
            # keys a cache). The version is provisional: the first use computes it again
            # from what the module holds then (helpers below the task, a registry filled).
            with defining():
                self._code_version = compute_version(fn)

    @property
    def fn(self) -> Callable[P, R]:
        """The function a run calls: the task's own, or its replacement while it is mocked
        (:mod:`airfoil.sdk._mocking`)."""
        return self._mock or self.__airfoil_fn__  # type: ignore[return-value]

    @property
    def interface(self) -> Any:
        return self.py_interface.interface

    @property
    def version(self) -> str:
        """The code version: see ``airfoil.sdk._versioning`` for the rule."""
        return self.spec.version

    @property
    def spec(self) -> TaskSpec:
        """The task's spec record (built on first use, and again when a global its code
        reads has been rebound since, as ``importlib.reload`` does)."""
        spec = self._spec
        if spec is None or (self._code_version and self._code_version.stale()):
            with _SPEC_LOCK:  # threads launching the task at once agree on one version
                spec = self._build_spec()
        if self._mock is not None:
            # A mocked task neither reads nor writes the real code's cache entries.
            return msgspec.structs.replace(
                spec,
                version=stable_hash(spec.version, "mocked")[: len(spec.version)],
                cache=CachePolicy(enabled=False),
            )
        return spec

    def _build_spec(self) -> TaskSpec:
        if self._spec is None or (self._code_version is not None and self._code_version.stale()):
            fn = self.__airfoil_fn__
            policy = self._options["cache"]
            assert isinstance(policy, CachePolicy)
            code_version = self._code_version
            if self._spec is not None or code_version is None or code_version.stale():
                # Warn about what the version cannot see only where it keys a cache.
                code_version = compute_version(fn, warn=policy.enabled and not policy.version)
            self._code_version = code_version
            version = self._code_version.version
            manifest = self._code_version.manifest
            config = self._options.get("config")
            if config:  # a task type's settings are part of what the task does
                text = encode_json(config).decode()
                version = stable_hash(version, text)[: len(version)]
                manifest = with_config(version, manifest, text)
            environment = self._options.get("environment")
            if environment:  # what os.environ reads in the task: environment={"MODE": "fp16"}
                text = encode_json(dict(sorted(environment.items()))).decode()  # type: ignore[union-attr]
                version = stable_hash(version, "environment", text)[: len(version)]
                with_config(version, manifest, text, label="environment")
            self._spec = TaskSpec(
                name=self.name,
                version=version,
                interface=self.py_interface.interface,
                module=self.module,
                qualname=fn.__qualname__,
                is_async=self.is_async,
                **self._options,  # type: ignore[arg-type]
            )
        return self._spec

    def with_name(self, name: str) -> TaskDef[P, R]:
        """The same task, whose calls in a workflow make nodes labelled ``name`` (shown in the
        console and the CLI), so several calls of one task can be told apart:
        ``train.with_name("lr")(model="lr")``. Outside a workflow it runs as the task does.

        Raises:
            DefinitionError: ``name`` is not one non-empty line of at most 80 characters.
        """
        named = copy.copy(self)
        named._node_label = _compile.check_node_name(name)
        return named

    def run_python(self, *args: P.args, **kwargs: P.kwargs) -> R:
        """Call the plain function, with no engine, store or cache."""
        return self.__airfoil_fn__(*args, **kwargs)

    def __call__(self, *args: P.args, **kwargs: P.kwargs) -> R:
        caller = sys._getframe(1)
        result: R = call_entity(
            self, "task", args, kwargs, caller, plain_in_worker=True, awaited=self.is_async
        )
        return result

    def __repr__(self) -> str:
        return f"TaskDef({self.name})"


@overload
def task(fn: Callable[P, R], /) -> TaskDef[P, R]: ...


@overload
def task(
    *,
    name: str | None = None,
    cache: bool = False,
    cache_version: str | None = None,
    cache_serialize: bool = False,
    cache_ignore_inputs: Sequence[str] = (),
    cache_scope: str = "",
    retries: int = 0,
    system_retries: int = 3,
    timeout: Any = None,
    requests: Resources | None = None,
    limits: Resources | None = None,
    interruptible: bool = False,
    environment: dict[str, str] | None = None,
    secret_requests: Sequence[str] = (),
    docs: str | None = None,
) -> Callable[[Callable[P, R]], TaskDef[P, R]]: ...


def task(
    fn: Callable[P, R] | None = None,
    /,
    *,
    name: str | None = None,
    cache: bool = False,
    cache_version: str | None = None,
    cache_serialize: bool = False,
    cache_ignore_inputs: Sequence[str] = (),
    cache_scope: str = "",
    retries: int = 0,
    system_retries: int = 3,
    timeout: Any = None,
    requests: Resources | None = None,
    limits: Resources | None = None,
    interruptible: bool = False,
    environment: dict[str, str] | None = None,
    secret_requests: Sequence[str] = (),
    docs: str | None = None,
) -> TaskDef[P, R] | Callable[[Callable[P, R]], TaskDef[P, R]]:
    """Turn a typed function into a task. Usable bare (``@task``) or with options.

    Args:
        fn: the function (when used bare).
        name: the task's name; default ``module.qualname``.
        cache: reuse outputs of earlier runs with the same inputs and version.
        cache_version: an explicit cache version; default the task's code version.
        cache_serialize: of several identical concurrent attempts, one runs, the others wait.
        cache_ignore_inputs: inputs left out of the cache key.
        cache_scope: share cached results across projects under this name, between the
            scope's members (``airfoil cache scopes``: each may read, or read and write); a
            project that is no member is refused (``CacheScopeAccessError``). Default
            (empty): entries belong to the execution's project and no other project sees them.
        retries: retries after a user error (an exception from the task's code).
        system_retries: retries after a system error (worker lost, timeout, out of memory).
        timeout: the longest an attempt may run (seconds or ``"10m"``); it is then stopped.
        requests: resources the task needs to start.
        limits: resources the task may not exceed.
        interruptible: the scheduler may preempt it; preemption does not use ``retries``.
        environment: environment variables set while the task runs.
        secret_requests: names of secrets made available in ``current_context().secrets``.
        docs: a description; default the function's docstring.
    """

    def wrap(f: Callable[P, R]) -> TaskDef[P, R]:
        return TaskDef(
            f,
            name=name,
            cache=cache,
            cache_version=cache_version,
            cache_serialize=cache_serialize,
            cache_ignore_inputs=cache_ignore_inputs,
            cache_scope=cache_scope,
            retries=retries,
            system_retries=system_retries,
            timeout=timeout,
            requests=requests,
            limits=limits,
            interruptible=interruptible,
            environment=environment,
            secret_requests=secret_requests,
            docs=docs,
        )

    if fn is not None:
        return wrap(fn)
    return wrap


def task_of_type(
    task_type: str, config: Mapping[str, Any] | None = None, **options: Any
) -> Callable[[Callable[P, R]], TaskDef[P, R]]:
    """Declare a task run by a task type other than plain Python (a shell command, an SQL
    query, a container, a distributed training job...).

    The function gives the task its name and typed interface (its body is not called by the
    type's runner unless the runner chooses to); ``config`` is the type's own settings, stored
    in the spec (``TaskSpec.config``) and part of the task's version. The worker's runtime
    runs it with the runner registered for ``task_type`` (``airfoil.runtime.TaskTypes``); the
    engine schedules, retries and caches it like any task.

    Args:
        task_type: the registered type's name (letters, digits, ``-``, ``_``).
        config: JSON data (str, numbers, bools, lists, dicts).
        options: the options of :func:`task`.

    Raises:
        DefinitionError: an invalid type name, or a config that is not JSON data.
    """
    if not task_type or not task_type.replace("-", "").replace("_", "").isalnum():
        raise DefinitionError(f"invalid task type {task_type!r}: use letters, digits, - and _")
    if task_type == "dynamic":
        raise DefinitionError("use @af.dynamic for dynamic workflows")
    try:
        data = dict(config or {})
        encode_json(data)
    except (TypeError, ValueError, msgspec.MsgspecError) as exc:
        raise DefinitionError(f"task type {task_type!r}: config is not JSON data: {exc}") from None

    def wrap(fn: Callable[P, R]) -> TaskDef[P, R]:
        made: TaskDef[P, R] = task(**options)(fn)
        made._options["task_type"] = task_type
        made._options["config"] = data
        return made

    return wrap


@functools.cache
def _spec_field_types() -> dict[str, Any]:
    """``TaskSpec``'s field types by name, resolved once a process (~0.5 ms a resolution:
    it was paid by every ``@task`` at import)."""
    return {f.name: f.type for f in msgspec.structs.fields(TaskSpec)}


def _check_spec_types(name: str, options: dict[str, Any], location: str) -> None:
    """Refuse a setting whose value is not of its ``TaskSpec`` field's type (``cache="yes"``,
    ``interruptible="yes"``, ``docs=123``): it would be stored, and every read of the spec
    back would fail (each run of the task, and listing the home's executions)."""
    types = _spec_field_types()
    for key, value in options.items():
        if key not in types:
            continue
        try:
            msgspec.convert(msgspec.to_builtins(value), type=types[key])
        except (msgspec.ValidationError, TypeError) as exc:
            raise DefinitionError(
                f"task {name!r}: the setting {key!r} is not of its type: {exc}",
                location=location,
            ) from None
