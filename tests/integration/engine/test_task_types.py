"""Task types plug in without touching the engine: a runner registered in the worker's runtime
runs tasks declared with ``task_of_type``; the engine schedules, retries and caches them."""

from __future__ import annotations

from typing import Any

import msgspec
import pytest

import airfoil as af
from airfoil.core.blobs import BlobStore
from airfoil.core.errors import DefinitionError
from airfoil.core.records import TaskSpec, Value
from airfoil.local import LocalRuntime, convert_inputs, decode_outputs, spec_of
from airfoil.runtime._task_types import TaskTypes, default_task_types, encode_outputs
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
