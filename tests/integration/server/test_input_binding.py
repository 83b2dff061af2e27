"""One input-binding path: the same bad input gives the same typed error from Python
(``wf(x=...)``), the command line (``airfoil run FILE wf --x ...``) and JSON over the API."""

from __future__ import annotations

import sys
import textwrap
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from airfoil.client import ApiCallError
from airfoil.core.errors import InvalidInputError
from airfoil.local import LocalRuntime, convert_inputs
from airfoil.settings import AirfoilSettings

pytestmark = pytest.mark.integration


def _error(call: Callable[[], object]) -> str:
    """The message of the InvalidInputError ``call`` raises (a client's error carries the
    server's message, and the status and code beside it)."""
    with pytest.raises(InvalidInputError) as caught:
        call()
    err = caught.value
    if isinstance(err, ApiCallError):
        suffix = f" [{err.status} {err.code}]"
        assert str(err).endswith(suffix) and err.code == "invalid_input"
        return str(err)[: -len(suffix)]
    return str(err)


@pytest.fixture
def local(tmp_path: Path) -> Any:
    runtime = LocalRuntime(
        AirfoilSettings(home=str(tmp_path), database_url="memory://", blob_url=str(tmp_path / "b"))
    )
    yield runtime
    runtime.close()


def test_the_same_bad_input_gives_the_same_error_from_python_the_cli_and_the_api(
    client: Any, flow: Any, local: Any
) -> None:
    from airfoil.cli._inputs import parse_inputs

    client.register([flow.configure])
    task = flow.configure

    def python(given: dict[str, Any]) -> str:
        return _error(lambda: convert_inputs(task, given, local))

    def cli(args: list[str]) -> str:
        return _error(lambda: convert_inputs(task, parse_inputs(task, args, local.types), local))

    def api(given: dict[str, Any]) -> str:
        return _error(lambda: client.launch(task.spec.name, given))

    good_cfg = {"scale": 1.0, "tags": ["a"], "mode": "FAST"}
    # A value of the wrong type: one class, one wording naming the task, the input (as the
    # user named it: the flag on the command line) and its type; the detail says what was
    # given, in the form it was given in.
    prefix = f"{task.name}: input 'n' expects int: "
    for message in (
        python({"cfg": flow.Config(1.0, ["a"], flow.Mode.FAST), "n": "two"}),
        api({"cfg": good_cfg, "n": "two"}),
    ):
        assert message.startswith(prefix), message
    typed = cli(["--cfg", '{"scale": 1.0, "tags": ["a"], "mode": "FAST"}', "--n", "two"])
    assert typed.startswith(f"{task.name}: input --n expects int: "), typed
    # A missing input: the very same message everywhere.
    missing = {python({"n": 3}), cli(["--n", "3"]), api({"n": 3})}
    assert missing == {f"{task.name} needs input 'cfg' (Config) but it was not given"}
    # An unknown input: the same message from Python and JSON (the command line refuses
    # the unknown flag itself, naming the flags).
    unknown = {python({"cfg": None, "bogus": 1}), api({"cfg": good_cfg, "bogus": 1})}
    assert unknown == {f"{task.name} has no input(s) 'bogus'; its inputs: cfg, n"}


PLAN = textwrap.dedent(
    """
    import pandas as pd

    import airfoil as af


    @af.task
    def rows(df: pd.DataFrame, extra: int) -> int:
        return len(df) + extra


    @af.workflow
    def counted(df: pd.DataFrame, extra: int = 0) -> int:
        return rows(df=df, extra=extra)


    counting = af.LaunchPlan.get_or_create(counted, "counting", fixed_inputs={"extra": 1})
    """
)


def test_a_launch_plan_takes_uploaded_inputs_as_a_plain_launch_does(
    client: Any, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """A launch plan's JSON inputs are bound by the same path as a launch's, references to
    uploads included (they used to be converted as JSON: a frame could not be given)."""
    import pandas as pd

    from airfoil.cli._load import load_entity

    root = tmp_path_factory.mktemp("frameplan")
    name = f"fp_{uuid.uuid4().hex[:8]}"
    (root / f"{name}.py").write_text(PLAN)
    plan = load_entity(str(root / f"{name}.py"), "counting")
    module = sys.modules[name]
    client.register([plan])
    launched = client.launch_plan(plan, {"df": pd.DataFrame({"a": [1, 2, 3]})})
    assert client.wait(launched.id, timeout=120).phase == "succeeded"
    assert client.outputs(launched.id, module.counted) == 4
    with pytest.raises(InvalidInputError, match=r"input 'df' expects DataFrame.*which is not JSON"):
        client.launch_plan(plan, {"df": [1, 2]})
    # The run name is refused as a plain launch refuses it (server._launching.check_launch).
    with pytest.raises(InvalidInputError, match=r"the launch's \"name\": invalid run name"):
        client.launch_plan(plan, {"df": pd.DataFrame({"a": [1]})}, name="Bad Id!")
