"""Task types plug in without touching the engine: a runner registered in the worker's runtime
runs tasks declared with ``task_of_type``; the engine schedules, retries and caches them."""

from __future__ import annotations

from typing import Any

import msgspec
import pytest

import airfoil as af
from airfoil.core.blobs import BlobStore
from airfoil.core.errors import DefinitionError
from airfoil.core.records import Binding, TaskSpec, Value, WorkflowSpec
from airfoil.local import LocalRuntime, convert_inputs, decode_outputs, spec_of
from airfoil.runtime._task_types import (
    TaskTypes,
    default_task_types,
    encode_outputs,
    graph_outputs,
)
from airfoil.sdk._task import task_of_type
from airfoil.settings import AirfoilSettings
from airfoil.types import TypeEngine, ValueContext

pytestmark = pytest.mark.integration


class TemplateConfig(msgspec.Struct, forbid_unknown_fields=True):
    template: str
    upper: bool = False


class TemplateRunner:
    """A task type that fills a text template with the task's inputs (its config)."""

    def __init__(self) -> None:
        self.ran = 0

    def run(self, task: Any, kwargs: dict[str, Any], spec: TaskSpec, blobs: BlobStore) -> Any:
        self.ran += 1
        config = msgspec.convert(spec.config, TemplateConfig)
        text = config.template.format(**kwargs)
        return text.upper() if config.upper else text

    def outputs(
        self, result: Any, task: Any, engine: TypeEngine, ctx: ValueContext
    ) -> dict[str, Value]:
        return encode_outputs(result, task, engine, ctx)


@task_of_type("template", {"template": "hello {name}, {n} times", "upper": True}, cache=True)
def greet(name: str, n: int) -> str:
    raise AssertionError("the template runner does not call the function")


@task_of_type("template", {"template": "bye {name}"})
def bye(name: str) -> str: ...


@af.workflow
def both(name: str) -> str:
    return bye(name=greet(name=name, n=2))


def _types(runner: TemplateRunner) -> TaskTypes:
    types = default_task_types()
    types.register("template", runner)
    return types


def test_the_spec_carries_the_type_and_its_config_and_the_config_is_versioned() -> None:
    assert greet.spec.task_type == "template"
    assert greet.spec.config == {"template": "hello {name}, {n} times", "upper": True}

    def same(name: str) -> str: ...

    one = task_of_type("template", {"template": "a {name}"})(same).spec
    two = task_of_type("template", {"template": "b {name}"})(same).spec
    assert one.version != two.version


def test_bad_declarations_are_definition_errors() -> None:
    with pytest.raises(DefinitionError, match="invalid task type"):
        task_of_type("no spaces")
    with pytest.raises(DefinitionError, match="not JSON data"):
        task_of_type("template", {"x": object()})


def test_a_registered_task_type_runs_in_a_workflow_and_is_cached() -> None:
    runner = TemplateRunner()
    rt = LocalRuntime(AirfoilSettings(), task_types=_types(runner))
    try:
        engine = rt.engine()
        for _ in range(2):
            values = convert_inputs(both, {"name": "ada"}, rt)
            record = engine.drive(engine.launch(spec_of(both), values).id)
            assert record.phase == "succeeded", record.error
            assert decode_outputs(both, record, rt) == "bye HELLO ADA, 2 TIMES"
        assert runner.ran == 3  # greet came from the cache the second time; bye is not cached
    finally:
        rt.close()


def test_an_unknown_task_type_is_a_clear_system_error() -> None:
    rt = LocalRuntime(AirfoilSettings())
    try:
        engine = rt.engine()
        values = convert_inputs(bye, {"name": "ada"}, rt)
        record = engine.drive(engine.launch(spec_of(bye), values).id)
        assert record.phase == "failed"
        assert record.error is not None and record.error.kind == "system"
        assert "no runner for task type 'template'" in record.error.message
    finally:
        rt.close()


@af.task
def plus_one(x: int) -> int:
    return x + 1


@af.workflow
def plus_two(x: int = 0) -> int:
    return plus_one(x=plus_one(x=x))


class RepeatRunner:
    """A task type that builds a graph instead of a value: ``plus_two`` started from the
    input ``x`` (the engine has no idea this type exists)."""

    def run(self, task: Any, kwargs: dict[str, Any], spec: TaskSpec, blobs: BlobStore) -> Any:
        graph: WorkflowSpec = plus_two.spec
        start = msgspec.structs.replace(
            graph.nodes[0], inputs={"x": Binding("literal", value=_int_value(kwargs["x"]))}
        )
        return msgspec.structs.replace(graph, nodes=(start, *graph.nodes[1:]))

    def outputs(
        self, result: Any, task: Any, engine: TypeEngine, ctx: ValueContext
    ) -> dict[str, Value]:
        return graph_outputs(result)


def _int_value(x: int) -> Value:
    from airfoil.types import default_type_engine

    return default_type_engine().to_value(x, int, ValueContext(blobs=None))  # type: ignore[arg-type]


@task_of_type("repeat")
def twice_more(x: int) -> int: ...


def test_a_new_task_type_that_builds_a_graph_needs_no_engine_change() -> None:
    types = default_task_types()
    types.register("repeat", RepeatRunner())
    rt = LocalRuntime(AirfoilSettings(), task_types=types)
    try:
        engine = rt.engine()
        values = convert_inputs(twice_more, {"x": 40}, rt)
        record = engine.drive(engine.launch(spec_of(twice_more), values).id)
        assert record.phase == "succeeded", record.error
        assert decode_outputs(twice_more, record, rt) == 42
        nodes = {n.node_id: n for n in rt.meta.get_nodes(record.id)}
        assert {"n0.n0", "n0.n1"} <= set(nodes)  # the graph ran as the node's children
        assert nodes["n0"].dynamic_spec is not None
    finally:
        rt.close()


def test_the_default_command_and_training_runners_are_built_when_first_asked_for() -> None:
    from airfoil.runtime._command_runners import ShellRunner
    from airfoil.runtime._training import TrainingRunner

    types = default_task_types()
    names = ["container", "dynamic", "python", "shell", "sql", "training"]
    assert types.names() == names
    copy = types.copy()
    shell = types.get("shell")
    assert isinstance(shell, ShellRunner)
    assert types.get("shell") is shell  # built once, then kept
    assert isinstance(copy.get("training"), TrainingRunner)
    assert copy.names() == names and types.names() == names
    replaced = default_task_types()
    own = TemplateRunner()
    replaced.register("sql", own)
    assert replaced.get("sql") is own  # a registered runner wins over the deferred default
