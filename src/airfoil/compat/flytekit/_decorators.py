"""flytekit's decorators and their option types on Airfoil's SDK.

``@task`` / ``@workflow`` / ``@dynamic`` / ``@eager`` take flytekit's keyword arguments.
What maps onto Airfoil is honoured (cache, cache_version, cache_serialize,
cache_ignore_input_vars, retries, timeout, interruptible, requests / limits / resources,
environment, secret_requests, docs, failure_policy, on_failure); what only means something on a
Kubernetes cluster (container_image, pod_template, accelerator, task_config, enable_deck...)
is accepted and recorded in the definition's :attr:`flyte_options`.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import enum
import functools
import inspect
import typing
from collections.abc import Callable
from typing import Any

from airfoil.core.errors import DefinitionError
from airfoil.core.resources import LOCAL_RESOURCES_KEY, ResourceSpec
from airfoil.sdk import _dynamic, _map, _task, _workflow
from airfoil.sdk._failure import FailureInfo
from airfoil.sdk._resources import Resources as _AirfoilResources

__all__ = [
    "Cache",
    "FlyteError",
    "ImageSpec",
    "PodTemplate",
    "PythonFunctionTask",
    "Resources",
    "TaskMetadata",
    "WorkflowFailurePolicy",
    "dynamic",
    "eager",
    "map_task",
    "task",
    "workflow",
]


@dataclasses.dataclass(frozen=True)
class Resources(_AirfoilResources):
    """flytekit's ``Resources(cpu=, mem=, gpu=, ephemeral_storage=)``: an Airfoil
    :class:`~airfoil.Resources`. A ``(request, limit)`` pair per quantity is accepted in
    ``resources=``; ``ephemeral_storage`` is recorded (no local meaning)."""

    cpu: Any = None
    mem: Any = None
    gpu: Any = None
    ephemeral_storage: Any = None

    def __post_init__(self) -> None:
        for part in self.split():
            part.to_spec()  # validate early, at decoration time

    def split(self) -> tuple[_AirfoilResources, _AirfoilResources]:
        """(requests, limits) as Airfoil resources: the first and the second of a pair, or
        the one value for both."""

        def part(value: Any, i: int) -> Any:
            if isinstance(value, tuple | list):
                return value[i] if len(value) > i else None
            return value

        req = _AirfoilResources(part(self.cpu, 0), part(self.mem, 0), part(self.gpu, 0))
        lim = _AirfoilResources(part(self.cpu, 1), part(self.mem, 1), part(self.gpu, 1))
        return req, lim

    def to_spec(self) -> ResourceSpec:
        """The requests' record (a pair's first values)."""
        return self.split()[0].to_spec()


def _resources(value: Any, what: str) -> _AirfoilResources | None:
    if value is None:
        return None
    if isinstance(value, Resources):
        return value.split()[0]
    if isinstance(value, _AirfoilResources):
        return value
    raise DefinitionError(f"{what} takes Resources(cpu=..., mem=...), not {value!r}")


@dataclasses.dataclass(frozen=True)
class Cache:
    """flytekit's ``Cache(version=, serialize=, ignored_inputs=)`` for ``cache=``."""

    version: str | None = None
    serialize: bool = False
    ignored_inputs: tuple[str, ...] | str = ()
    salt: str = ""
    policies: Any = None


class ImageSpec:
    """flytekit's ``ImageSpec``: recorded (tasks run in this environment)."""

    def __init__(self, name: str = "flytekit", **settings: Any) -> None:
        self.name = name
        self.settings = settings

    def _with(self, field: str, items: str | list[str]) -> ImageSpec:
        extra = [items] if isinstance(items, str) else list(items)
        settings = dict(self.settings)
        settings[field] = [*settings.get(field, []), *extra]
        return ImageSpec(self.name, **settings)

    def with_packages(self, packages: str | list[str]) -> ImageSpec:
        return self._with("packages", packages)

    def with_apt_packages(self, apt_packages: str | list[str]) -> ImageSpec:
        return self._with("apt_packages", apt_packages)

    def with_commands(self, commands: str | list[str]) -> ImageSpec:
        return self._with("commands", commands)

    def with_copy(self, src: str | list[str]) -> ImageSpec:
        return self._with("copy", src)

    def with_runtime_packages(self, runtime_packages: list[str]) -> ImageSpec:
        return self._with("runtime_packages", runtime_packages)

    def with_builder_options(self, builder_options: dict[str, Any]) -> ImageSpec:
        settings = dict(self.settings)
        settings["builder_options"] = {**settings.get("builder_options", {}), **builder_options}
        return ImageSpec(self.name, **settings)

    def force_push(self) -> ImageSpec:
        return ImageSpec(self.name, **{**self.settings, "force_push": True})

    def is_container(self) -> bool:
        """True, as in flytekit's local runs: tasks run in this environment, so the imports
        guarded by ``if image.is_container():`` are made here."""
        return True

    @property
    def image_name(self) -> str:
        registry = self.settings.get("registry")
        return f"{registry}/{self.name}" if registry else self.name

    def exist(self) -> bool:
        return True

    def __repr__(self) -> str:
        return f"ImageSpec({self.name!r})"


class PodTemplate:
    """flytekit's ``PodTemplate``: recorded (tasks run in this process or its workers)."""

    def __init__(
        self,
        pod_spec: Any = None,
        primary_container_name: str = "primary",
        labels: dict[str, str] | None = None,
        annotations: dict[str, str] | None = None,
    ) -> None:
        self.pod_spec = pod_spec
        self.primary_container_name = primary_container_name
        self.labels = labels or {}
        self.annotations = annotations or {}


@dataclasses.dataclass
class TaskMetadata:
    """flytekit's ``TaskMetadata`` (for class-based tasks); its fields map to task options."""

    cache: bool = False
    cache_serialize: bool = False
    cache_version: str = ""
    cache_ignore_input_vars: tuple[str, ...] = ()
    interruptible: bool | None = None
    deprecated: str = ""
    retries: int = 0
    timeout: dt.timedelta | int | None = None
    pod_template_name: str | None = None


class WorkflowFailurePolicy(enum.Enum):
    """flytekit's failure policies."""

    FAIL_IMMEDIATELY = "fail_immediately"
    FAIL_AFTER_EXECUTABLE_NODES_COMPLETE = "finish_what_can_run"


@dataclasses.dataclass(frozen=True)
class FlyteError:
    """What a flytekit ``on_failure`` handler receives in its ``err`` input."""

    message: str
    failed_node_id: str


_PLATFORM_TASK_OPTIONS = (
    "container_image",
    "task_config",
    "pod_template",
    "pod_template_name",
    "accelerator",
    "enable_deck",
    "deck_fields",
    "disable_deck",
    "deprecated",
    "execution_mode",
    "node_dependency_hints",
    "task_resolver",
    "pickle_untyped",
    "shared_memory",
    "labels",
    "annotations",
)


def _task_options(
    *,
    cache: Any,
    cache_serialize: bool,
    cache_version: str,
    cache_ignore_input_vars: Any,
    retries: int,
    interruptible: bool | None,
    timeout: Any,
    environment: dict[str, str] | None,
    requests: Any,
    limits: Any,
    resources: Any,
    secret_requests: Any,
    docs: Any,
) -> dict[str, Any]:
    from airfoil.compat.flytekit._context import Secret

    if isinstance(cache, Cache):
        cache_version = cache.version or cache_version
        cache_serialize = cache.serialize or cache_serialize
        ignored = cache.ignored_inputs
        cache_ignore_input_vars = (ignored,) if isinstance(ignored, str) else tuple(ignored)
        cache = True
    if resources is not None:
        if not isinstance(resources, Resources):
            raise DefinitionError(
                f"resources= takes Resources(cpu=..., mem=...), not {resources!r}"
            )
        req, lim = resources.split()
        requests, limits = requests or req, limits or lim
    secrets = []
    for s in secret_requests or ():
        if isinstance(s, Secret):
            secrets.append(s.name)
        elif isinstance(s, str):
            secrets.append(s)
        else:
            raise DefinitionError(f"secret_requests take Secret(group=..., key=...), not {s!r}")
    return dict(
        cache=bool(cache),
        cache_version=cache_version or None,
        cache_serialize=bool(cache_serialize),
        cache_ignore_inputs=(
            (cache_ignore_input_vars,)  # one input's name, not its letters
            if isinstance(cache_ignore_input_vars, str)
            else tuple(cache_ignore_input_vars or ())
        ),
        retries=retries,
        timeout=timeout,
        interruptible=bool(interruptible),
        environment=environment,
        requests=_resources(requests, "requests="),
        limits=_resources(limits, "limits="),
        secret_requests=tuple(secrets),
        docs=docs if isinstance(docs, str | type(None)) else str(docs),
    )


_TASK_DEFAULTS: dict[str, Any] = dict(
    cache=False,
    cache_serialize=False,
    cache_version="",
    cache_ignore_input_vars=(),
    retries=0,
    interruptible=None,
    timeout=None,
    environment=None,
    requests=None,
    limits=None,
    resources=None,
    secret_requests=None,
    docs=None,
)


def airfoil_options(
    options: dict[str, Any], what: str = "task"
) -> tuple[dict[str, Any], dict[str, Any]]:
    """flytekit's task options (as ``@task`` takes them) for a task made another way (a
    ShellTask, SQLite3Task, ContainerTask, a ``@dynamic``): the options of
    :func:`airfoil.task`, and the platform options recorded in ``flyte_options``.

    Raises:
        TypeError: an option flytekit's ``@task`` (or ``what``) does not have.
    """
    _prepare()
    given = {k: v for k, v in options.items() if k in _TASK_DEFAULTS}
    platform = {k: v for k, v in options.items() if k not in _TASK_DEFAULTS}
    _check_platform(platform, what)
    return _task_options(**{**_TASK_DEFAULTS, **given}), platform


def finish_task(made: Any, recorded: dict[str, Any]) -> Any:
    """Mark a task made by :func:`airfoil_options`' caller as flytekit's ``@task`` marks its
    own: the recorded options, and a script's call printing what the task prints."""
    vars(made)["flyte_options"] = dict(recorded)
    vars(made)["echo_task_output"] = True
    return made


def hint_resources_locally(made: Any) -> Any:
    """Mark a task so that a *local* run treats its resource requests (its own, or a node's
    ``with_overrides``) as hints, as flytekit's local runs do: a GPU asked for on a machine
    without one runs, with one warning. A server or cluster still honours them. See
    ``core.resources.LOCAL_RESOURCES_KEY``."""
    options = made._options
    options["config"] = {**(options.get("config") or {}), LOCAL_RESOURCES_KEY: "best_effort"}
    return made


def _prepare() -> None:
    from airfoil.compat.flytekit._types import install

    install()


def task(
    _task_function: Callable[..., Any] | None = None,
    *,
    cache: Any = False,
    cache_serialize: bool = False,
    cache_version: str = "",
    cache_ignore_input_vars: Any = (),
    retries: int = 0,
    interruptible: bool | None = None,
    timeout: Any = None,
    environment: dict[str, str] | None = None,
    requests: Any = None,
    limits: Any = None,
    resources: Any = None,
    secret_requests: Any = None,
    docs: Any = None,
    **platform: Any,
) -> Any:
    """flytekit's ``@task`` (bare or with options) as an Airfoil task.

    Raises:
        TypeError: an option flytekit's ``@task`` does not have.
    """
    _check_platform(platform, "task")
    options = _task_options(
        cache=cache,
        cache_serialize=cache_serialize,
        cache_version=cache_version,
        cache_ignore_input_vars=cache_ignore_input_vars,
        retries=retries,
        interruptible=interruptible,
        timeout=timeout,
        environment=environment,
        requests=requests,
        limits=limits,
        resources=resources,
        secret_requests=secret_requests,
        docs=docs,
    )

    return _decorate(_task.task, options, platform, _task_function)


def PythonFunctionTask(
    task_config: Any = None,
    task_function: Callable[..., Any] | None = None,
    metadata: TaskMetadata | None = None,
    **options: Any,
) -> Any:
    """flytekit's ``PythonFunctionTask(task_config, task_function, metadata=TaskMetadata(...))``:
    the same task as ``@task`` with the metadata's options.

    Raises:
        DefinitionError: no ``task_function``.
    """
    if task_function is None or not callable(task_function):
        raise DefinitionError(
            f"PythonFunctionTask needs task_function=<a function>, not {task_function!r}"
        )
    meta = metadata or TaskMetadata()
    return task(
        task_function,
        cache=meta.cache,
        cache_serialize=meta.cache_serialize,
        cache_version=meta.cache_version,
        cache_ignore_input_vars=meta.cache_ignore_input_vars,
        retries=meta.retries,
        interruptible=meta.interruptible,
        timeout=meta.timeout,
        task_config=task_config,
        **options,
    )


def _check_platform(platform: dict[str, Any], what: str) -> None:
    unknown = sorted(set(platform) - set(_PLATFORM_TASK_OPTIONS))
    if unknown:
        raise TypeError(f"{what}() got unexpected keyword argument(s) {', '.join(unknown)}")


def dynamic(_task_function: Callable[..., Any] | None = None, **options: Any) -> Any:
    """flytekit's ``@dynamic`` as an Airfoil dynamic workflow; takes the options of
    :func:`task`: ``cache=`` (and ``cache_version``...) cache its outputs by its inputs, as
    flytekit's does.

    Raises:
        TypeError: an option flytekit's ``@dynamic`` does not have.
    """
    airfoil, platform = airfoil_options(options, "dynamic")
    return _decorate(_dynamic.dynamic, airfoil, platform, _task_function)


def _decorate(
    maker: Callable[..., Callable[[Callable[..., Any]], Any]],
    options: dict[str, Any],
    platform: dict[str, Any],
    fn: Callable[..., Any] | None,
) -> Any:
    """``@task`` or ``@dynamic`` (``maker``, with Airfoil's ``options``) marked as flytekit's
    (:func:`finish_task`, :func:`hint_resources_locally`): applied to ``fn``, or the
    decorator when it is None (the options form)."""

    def wrap(fn: Callable[..., Any]) -> Any:
        _prepare()
        return hint_resources_locally(finish_task(maker(**options)(fn), platform))

    return wrap(fn) if fn is not None else wrap


def eager(_fn: Callable[..., Any] | None = None, **options: Any) -> Any:
    """flytekit's ``@eager``: an async task whose calls of tasks run as durable child nodes of
    its own node (how Airfoil runs a task called from a running one): a plain task call gives
    its value, an async task's call is awaited. Takes the options of :func:`task`; ``remote``
    and client-secret options are not needed locally and are refused by name."""

    def wrap(fn: Callable[..., Any]) -> Any:
        if not inspect.iscoroutinefunction(fn):
            raise DefinitionError(f"@eager decorates an async function; {fn.__qualname__} is not")
        made = task(**options)(fn)
        made.__class__ = _EagerTask
        return made

    return wrap(_fn) if _fn is not None else wrap


class _EagerTask(_task.TaskDef[..., Any]):
    """An ``@eager`` task: called outside a workflow it returns a coroutine, as flytekit's
    does (``asyncio.run(eager_wf(x=1))``); inside a workflow it is a node."""

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        from airfoil.sdk import _compile
        from airfoil.sdk._context import in_running_task

        if _compile.active() is not None or in_running_task():
            return super().__call__(*args, **kwargs)

        async def run() -> Any:
            return super(_EagerTask, self).__call__(*args, **kwargs)

        return run()


def workflow(
    _workflow_function: Callable[..., Any] | None = None,
    *,
    failure_policy: WorkflowFailurePolicy | None = None,
    interruptible: bool = False,
    on_failure: Any = None,
    docs: Any = None,
    pickle_untyped: bool = False,
    default_options: Any = None,
) -> Any:
    """flytekit's ``@workflow`` as an Airfoil workflow. An ``on_failure`` task takes the
    workflow's inputs and ``err: Optional[FlyteError]``, as in flytekit."""
    policy = (failure_policy or WorkflowFailurePolicy.FAIL_IMMEDIATELY).value

    def wrap(fn: Callable[..., Any]) -> Any:
        _prepare()
        handler = _failure_adapter(on_failure) if on_failure is not None else None
        made = _workflow.workflow(
            failure_policy=policy,
            docs=docs if isinstance(docs, str | type(None)) else str(docs),
            on_failure=handler,
        )(fn)
        vars(made)["flyte_options"] = {
            "interruptible": interruptible,
            "default_options": default_options,
        }
        vars(made)["echo_task_output"] = True  # a script's call prints what tasks print
        return made

    return wrap(_workflow_function) if _workflow_function is not None else wrap


def _failure_adapter(handler: Any) -> Any:
    """An Airfoil ``on_failure`` task (``error: FailureInfo``) that calls a flytekit handler
    (the workflow's inputs and ``err: FlyteError``)."""
    fn: Callable[..., Any]
    if isinstance(handler, _workflow.WorkflowDef):
        # A workflow handler (flytekit allows one): run as a child of the handler task.
        wf = handler
        fn = functools.wraps(wf.__airfoil_fn__)(lambda **kwargs: wf(**kwargs))
    elif isinstance(handler, _task.TaskDef):
        fn = handler.__airfoil_fn__
    else:
        raise DefinitionError(
            f"on_failure takes a @task or a @workflow (with the workflow's inputs and, "
            f"optionally, an `err: typing.Optional[FlyteError] = None` input), not {handler!r}"
        )
    hints = typing.get_type_hints(fn)
    sig = inspect.signature(fn)
    err_names = [n for n, tp in hints.items() if n != "return" and "FlyteError" in repr(tp)]
    err_name = err_names[0] if err_names else None
    params = [inspect.Parameter("error", inspect.Parameter.KEYWORD_ONLY, annotation=FailureInfo)]
    annotations: dict[str, Any] = {"error": FailureInfo}
    for name, p in sig.parameters.items():
        if name == err_name:
            continue
        params.append(p.replace(kind=inspect.Parameter.KEYWORD_ONLY, annotation=hints[name]))
        annotations[name] = hints[name]
    annotations["return"] = hints.get("return")

    def on_failure(**kwargs: Any) -> Any:
        error: FailureInfo = kwargs.pop("error")
        if err_name is not None:
            kwargs[err_name] = FlyteError(
                message=f"{error.error_type}: {error.message}", failed_node_id=error.node_id
            )
        return fn(**kwargs)

    on_failure.__signature__ = inspect.Signature(params)  # type: ignore[attr-defined]
    on_failure.__annotations__ = annotations
    on_failure.__module__ = fn.__module__
    on_failure.__qualname__ = f"{fn.__qualname__}.on_failure"
    on_failure.__name__ = "on_failure"
    on_failure.__doc__ = fn.__doc__
    return _task.task(name=f"{handler.name}.on_failure")(on_failure)


def map_task(
    target: Any,
    concurrency: int | None = None,
    min_success_ratio: float | None = None,
    min_successes: int | None = None,
    **platform: Any,
) -> Any:
    """flytekit's ``map_task`` / ``flytekit.map`` (``bound_inputs=`` as keyword values, or a
    ``functools.partial``). ``min_successes`` needs ``min_success_ratio`` instead."""
    bound = platform.pop("bound_inputs", None)
    metadata = platform.pop("metadata", None)
    _check_platform(platform, "map_task")
    if min_successes is not None:
        raise DefinitionError(
            "map_task(min_successes=...) is not supported: give min_success_ratio= (the share "
            "of items that must succeed)"
        )
    if bound:
        import functools

        target = functools.partial(target, **bound)
    mapped = _map.map_task(
        target, concurrency, 1.0 if min_success_ratio is None else min_success_ratio
    )
    if metadata is not None:
        mapped.item_overrides = _map_metadata(metadata)
    return mapped


def _map_metadata(meta: Any) -> dict[str, Any]:
    """``map_task(t, metadata=TaskMetadata(...))``: what every item runs with, in place of the
    task's own settings, as in flytekit (before 2026-12-06 it was accepted and ignored)."""
    from airfoil.sdk._overrides import spec_overrides

    what = "map_task(metadata=...)"
    if not isinstance(meta, TaskMetadata):
        raise DefinitionError(f"{what} takes TaskMetadata(retries=..., ...), not {meta!r}")
    if meta.cache_ignore_input_vars:
        raise DefinitionError(
            f"{what}: cache_ignore_input_vars cannot be set for the map's items: give it on "
            "the @task"
        )
    return spec_overrides(
        what,
        retries=meta.retries,
        timeout=meta.timeout,
        interruptible=meta.interruptible,
        cache=bool(meta.cache),
        cache_version=meta.cache_version or None,
        cache_serialize=bool(meta.cache_serialize),
    )
