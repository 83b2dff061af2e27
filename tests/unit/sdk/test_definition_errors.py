"""Definition-time checks: every wiring mistake raises before anything runs, naming the
workflow, the call and its file and line."""

from __future__ import annotations

from typing import NamedTuple

import pytest

import airfoil as af
from airfoil.core.errors import (
    BindingTypeError,
    DefinitionError,
    MissingInputError,
    PromiseMisuseError,
    UnknownInputError,
    UnknownOutputError,
)

pytestmark = pytest.mark.unit


@af.task
def make_int(x: int) -> int:
    return x


@af.task
def make_float(x: float) -> float:
    return x


@af.task
def take_str(s: str) -> str:
    return s


class Pair(NamedTuple):
    a: int
    b: str


@af.task
def pair(x: int) -> Pair:
    return Pair(x, str(x))


def _this_file_line(exc: DefinitionError) -> int:
    assert exc.location and exc.location.startswith(__file__), exc.location
    return int(exc.location.rsplit(":", 1)[1])


def test_wrong_type_names_workflow_call_and_line() -> None:
    with pytest.raises(BindingTypeError) as info:

        @af.workflow
        def wf(x: int) -> str:
            return take_str(s=make_int(x=x))  # the offending line

    exc = info.value
    assert exc.workflow is not None and exc.workflow.endswith("wf")
    assert "take_str" in (exc.call or "")
    assert "expects str" in str(exc) and "int" in str(exc)
    import inspect

    src_line = next(
        i
        for i, line in enumerate(
            inspect.getsource(test_wrong_type_names_workflow_call_and_line).splitlines()
        )
        if "the offending line" in line
    )
    first = test_wrong_type_names_workflow_call_and_line.__code__.co_firstlineno
    assert _this_file_line(exc) == first + src_line


def test_float_into_int_is_an_error_not_a_cast() -> None:
    with pytest.raises(BindingTypeError, match="expects int"):

        @af.workflow
        def wf(x: float) -> int:
            return make_int(x=make_float(x=x))


def test_int_into_float_is_fine() -> None:
    @af.workflow
    def wf(x: int) -> float:
        return make_float(x=make_int(x=x))

    assert [n.id for n in wf.spec.nodes] == ["n0", "n1"]


def test_literal_of_wrong_type() -> None:
    with pytest.raises(BindingTypeError):

        @af.workflow
        def wf() -> int:
            return make_int(x="three")  # type: ignore[arg-type]


def test_missing_input() -> None:
    with pytest.raises(MissingInputError, match="needs input 'x'"):

        @af.workflow
        def wf() -> int:
            return make_int()  # type: ignore[call-arg]


def test_unknown_input() -> None:
    with pytest.raises(UnknownInputError, match="has no input 'y'"):

        @af.workflow
        def wf() -> int:
            return make_int(x=1, y=2)  # type: ignore[call-arg]


def test_unknown_output() -> None:
    with pytest.raises(UnknownOutputError, match="has no output 'c'"):

        @af.workflow
        def wf() -> int:
            return pair(x=1).c  # type: ignore[attr-defined]


@af.task
def nothing(x: int) -> None:
    return None


def test_all_the_outputs_of_a_node_given_as_one_input_names_them() -> None:
    with pytest.raises(
        BindingTypeError, match=r"all 2 outputs of .*pair \(`\.a`, `\.b`\); pick one, e\.g\. `\.a`"
    ):

        @af.workflow
        def wf(x: int) -> str:
            return take_str(s=pair(x=x))  # type: ignore[arg-type]

    with pytest.raises(BindingTypeError, match=r"outputs of .*nothing, which has none"):

        @af.workflow
        def wf2(x: int) -> int:
            return make_int(x=nothing(x=x))  # type: ignore[arg-type]


def test_if_on_a_promise() -> None:
    with pytest.raises(PromiseMisuseError, match="truth test"):

        @af.workflow
        def wf(x: int) -> int:
            if make_int(x=x):
                return make_int(x=1)
            return make_int(x=2)


def test_arithmetic_and_iteration_on_promises() -> None:
    with pytest.raises(PromiseMisuseError, match="arithmetic"):

        @af.workflow
        def wf(x: int) -> int:
            return make_int(x=x) + 1  # type: ignore[return-value]

    with pytest.raises(PromiseMisuseError, match="iteration"):

        @af.workflow
        def wf2(x: int) -> int:
            for _ in make_int(x=x):  # type: ignore[attr-defined]
                pass
            return x


def test_missing_annotation_and_variadic() -> None:
    with pytest.raises(DefinitionError, match="no type annotation"):

        @af.task
        def bad(x) -> int:  # type: ignore[no-untyped-def]
            return 1

    with pytest.raises(DefinitionError, match="variadic"):

        @af.task
        def bad2(*xs: int) -> int:
            return 1


def test_workflow_return_mismatch() -> None:
    with pytest.raises(BindingTypeError):

        @af.workflow
        def wf(x: int) -> str:
            return make_int(x=x)  # type: ignore[return-value]

    with pytest.raises(DefinitionError, match="returns nothing"):

        @af.workflow
        def wf2(x: int) -> int:  # type: ignore[return]
            make_int(x=x)


def test_cache_ignore_inputs_as_one_string_names_one_input() -> None:
    """``cache_ignore_inputs="seed"`` is the input ``seed``, not the inputs s, e, e and d
    (which refused a valid task with "unknown inputs ['s', 'e', 'e', 'd']")."""

    @af.task(cache=True, cache_ignore_inputs="seed")
    def sample(x: int, seed: int = 0) -> int:
        return x

    assert sample.spec.cache.ignore_inputs == ("seed",)


def test_bad_task_options() -> None:
    with pytest.raises(DefinitionError, match="retries"):
        af.task(retries=-1)(lambda x: x)  # type: ignore[arg-type]
    # before, system_retries=-2 was taken and meant 0: a timed-out attempt was never retried
    with pytest.raises(DefinitionError, match="system_retries must be a whole number >= 0"):
        af.task(system_retries=-2)(lambda x: x)  # type: ignore[arg-type]
    with pytest.raises(DefinitionError, match="cache_ignore_inputs"):

        @af.task(cache=True, cache_ignore_inputs=["nope"])
        def t(x: int) -> int:
            return x

    with pytest.raises(DefinitionError, match=r"unknown inputs \['sed'\] \(its inputs: x, seed\)"):

        @af.task(cache=True, cache_ignore_inputs=["sed"])
        def t1(x: int, seed: int = 0) -> int:
            return x

    with pytest.raises(DefinitionError, match="duration"):

        @af.task(timeout="ten minutes")
        def t2(x: int) -> int:
            return x

    with pytest.raises(af.UserError, match="memory"):
        af.Resources(mem="lots")


def test_gpu_count_as_text_like_cpu_and_mem() -> None:
    assert af.Resources(gpu="4").to_spec().gpu == 4
    assert af.Resources(cpu="2", mem="1Gi", gpu=" 2 ").to_spec().gpu == 2
    for bad in ("four", "1.5", "-1", True):
        with pytest.raises(af.UserError, match="invalid gpu"):
            af.Resources(gpu=bad)  # type: ignore[arg-type]


def test_node_outputs_by_name_and_unpacking() -> None:
    @af.workflow
    def wf(x: int) -> Pair:
        a, b = pair(x=x)
        return Pair(make_int(x=a), take_str(s=b))

    assert [n.task.name.rsplit(".", 1)[-1] for n in wf.spec.nodes if n.task] == [
        "pair",
        "make_int",
        "take_str",
    ]
    assert set(wf.spec.outputs) == {"a", "b"}


def test_a_constant_past_64_bits_is_refused_at_definition_as_a_run_input_is() -> None:
    # main: the workflow was defined and ran; the same value as a run's input is refused
    with pytest.raises(BindingTypeError) as caught:

        @af.workflow
        def big_constant() -> int:
            return make_int(x=2**70)

    said = str(caught.value)
    assert "input 'x' of " in said and "is an integer of 22 digits" in said, said
    assert "outside the signed 64-bit range" in said and "as a str" in said, said
    assert "test_definition_errors.py:" in said, said
    # the item's index next to the input's name (main: "input 'x' of map_....make_int[1]")
    with pytest.raises(BindingTypeError, match=r"input 'x'\[1\] of map_\S+ is an integer of 19 "):

        @af.workflow
        def big_item() -> list[int]:
            return af.map_task(make_int)(x=[1, -(2**63) - 1])

    @af.workflow
    def edges() -> list[int]:  # the edges of the range are constants like any other
        return af.map_task(make_int)(x=[2**63 - 1, -(2**63)])

    assert edges() == [2**63 - 1, -(2**63)]


def test_defaults_and_a_launch_plans_presets_past_64_bits_are_refused_at_definition() -> None:
    """One 64-bit rule for every way a value becomes a run's input (main: a task's default
    and a launch plan's default or fixed input past 64 bits were taken, and ran)."""
    with pytest.raises(DefinitionError) as caught:

        @af.task
        def big_default(x: list[int] = [1, 2**70]) -> int:  # noqa: B006
            return len(x)

    said = str(caught.value)
    assert "the default of parameter 'x'[1] of task " in said, said
    assert "is an integer of 22 digits" in said and "as a str" in said, said

    @af.workflow
    def takes(x: int = 0) -> int:
        return make_int(x=x)

    for preset in ("default_inputs", "fixed_inputs"):
        with pytest.raises(DefinitionError) as caught:
            af.LaunchPlan.get_or_create(takes, f"big_{preset}", **{preset: {"x": -(2**64)}})
        said = str(caught.value)
        assert f"{preset}['x'] of launch plan 'big_{preset}' is an integer of 20" in said, said
    edge = af.LaunchPlan.get_or_create(takes, "edge", fixed_inputs={"x": 2**63 - 1})
    assert edge.fixed_inputs == {"x": 2**63 - 1}


@pytest.mark.parametrize("bad", ["hf token", "../hf", "", "-x", "x" * 101])
def test_a_secret_request_the_store_cannot_hold_is_refused_at_definition(bad: str) -> None:
    """main took any name, and a task asking for one the secret store refuses to hold (its
    name rule) never found it at run time."""
    with pytest.raises(DefinitionError) as caught:

        @af.task(secret_requests=["ok_name", bad])
        def needs_secret() -> int:
            return 1

    said = str(caught.value)
    assert f"secret_requests has an invalid secret name {bad!r}" in said, said
    assert "use 1-100 letters, digits" in said and "test_definition_errors.py:" in said, said


def test_one_secret_request_as_a_string_is_one_name() -> None:
    @af.task(secret_requests="hf_token.v2")
    def needs_one() -> int:
        return 1

    assert needs_one.spec.secret_requests == ("hf_token.v2",)  # not its letters
