"""airfoil.compat.flytekit: the names, what they honour, and the clear errors of bad input and
of names that have no local meaning."""

from __future__ import annotations

import datetime as dt
import os
import typing
from pathlib import Path

import pytest

import airfoil.compat.flytekit as flytekit
from airfoil.compat.flytekit import (
    CronSchedule,
    Email,
    FlyteRemote,
    LaunchPlan,
    Resources,
    Secret,
    StructuredDataset,
    TypeEngine,
    WorkflowExecutionPhase,
    current_context,
    map_task,
    reference_launch_plan,
    reference_task,
    task,
    workflow,
)
from airfoil.compat.flytekit.types.file import FlyteFile
from airfoil.core.errors import DefinitionError, ExecutionFailedError

EXPECTED_NAMES = {
    "Annotations", "BatchSize", "Labels", "Cache", "ContainerTask", "PythonFunctionTask",
    "CronSchedule",
    "Deck", "Email",
    "FixedRate", "FlyteDirectory", "FlyteError",
    "FlyteFile", "FlyteRemote", "HashMethod", "ImageSpec", "LaunchPlan", "PagerDuty",
    "PodTemplate", "Resources", "Secret", "Slack", "StructuredDataset", "TaskMetadata",
    "TypeEngine", "TypeTransformer", "Workflow", "WorkflowExecutionPhase",
    "WorkflowFailurePolicy", "approve", "conditional", "create_node", "current_context",
    "dynamic", "eager", "kwtypes", "map",
    "map_task", "reference_launch_plan", "reference_task", "reference_workflow", "sleep",
    "task", "wait_for_input", "workflow",
    # flytekit's top-level names the public examples import (dataframe handlers, contexts,
    # documentation, the model classes, the logger, intra-task checkpoints)
    "Checkpoint", "Description", "Documentation", "ExecutionParameters", "FlyteContext",
    "FlyteContextManager", "Literal", "LiteralType", "Scalar", "SourceCode",
    "StructuredDatasetFormat", "StructuredDatasetTransformerEngine", "StructuredDatasetType",
    "logger", "SQLTask",
}  # fmt: skip


def test_public_names() -> None:
    assert set(flytekit.__all__) == EXPECTED_NAMES
    assert all(hasattr(flytekit, name) for name in EXPECTED_NAMES)


@pytest.mark.parametrize(
    ("module", "names"),
    [
        ("core.task", ["task", "TaskMetadata", "Resources", "reference_task"]),
        ("core.launch_plan", ["LaunchPlan", "reference_launch_plan"]),
        ("core.resources", ["Resources"]),
        ("core.dynamic_workflow_task", ["dynamic"]),
        ("core.map_task", ["map_task"]),
        ("core.array_node_map_task", ["map_task"]),
        ("core.schedule", ["CronSchedule", "FixedRate"]),
        ("core.notification", ["Email", "Slack", "PagerDuty"]),
        ("core.condition", ["conditional"]),
        ("core.gate", ["approve", "sleep", "wait_for_input"]),
        ("core.python_function_task", ["PythonFunctionTask"]),
        ("image_spec", ["ImageSpec"]),
        ("loggers", ["logger"]),
    ],
)
def test_flytekit_module_paths_give_the_top_level_objects(module: str, names: list[str]) -> None:
    """A program that imports from flytekit's own modules (``from flytekit.core.launch_plan
    import LaunchPlan``, common in flytesnacks and older code) runs with only the import
    changed: on main these paths were ModuleNotFoundError."""
    import importlib

    mod = importlib.import_module(f"airfoil.compat.flytekit.{module}")
    for name in names:
        assert getattr(mod, name) is getattr(flytekit, name), (module, name)


@task(retries=0)
def flaky(marker: str) -> int:
    # Fails on its first attempt, succeeds on the next.
    if not os.path.exists(marker):
        Path(marker).write_text("tried")
        raise RuntimeError("first attempt fails")
    return 7


@task(requests=Resources(cpu="1", mem="100Mi"), container_image="ghcr.io/x/y:1")
def heavy(x: int) -> int:
    return x


def test_with_overrides_changes_the_node_not_the_task() -> None:
    @workflow
    def wf(x: int) -> int:
        a = heavy(x=x).with_overrides(
            requests=Resources(cpu="2", mem="1Gi"), limits=Resources(cpu="4"), timeout=30,
            container_image="other:2", name="big",
        )  # fmt: skip
        return heavy(x=a)

    first, second = wf.spec.nodes
    assert first.label == "big"
    assert first.task.requests.cpu == 2 and first.task.requests.mem == 1024**3
    assert first.task.limits.cpu == 4 and first.task.timeout_s == 30
    assert second.task.requests.cpu == 1  # the other call keeps the task's own settings
    assert heavy.flyte_options["container_image"] == "ghcr.io/x/y:1"
    assert wf(x=3) == 3


def test_retries_override_is_honoured(tmp_path: Path) -> None:
    marker = str(tmp_path / "marker")

    @workflow
    def wf(marker: str) -> int:
        return flaky(marker=marker).with_overrides(retries=1)

    assert wf(marker=marker) == 7


def test_with_overrides_bad_input() -> None:
    with pytest.raises(DefinitionError, match="unknown keyword"):

        @workflow
        def wf1(x: int) -> int:
            return heavy(x=x).with_overrides(cpu="1")

    with pytest.raises(DefinitionError, match="takes Resources"):

        @workflow
        def wf2(x: int) -> int:
            return heavy(x=x).with_overrides(requests={"cpu": "1"})


def test_resources_pairs_are_request_and_limit() -> None:
    @task(resources=Resources(cpu=("1", "2"), mem=("100Mi", "200Mi")))
    def t(x: int) -> int:
        return x

    assert t.spec.requests.cpu == 1 and t.spec.limits.cpu == 2
    assert t.spec.limits.mem == 200 * 1024**2


def test_unknown_task_option_is_a_type_error() -> None:
    with pytest.raises(TypeError, match="cach"):
        task(cach=True)


def test_secrets_by_group_and_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AIRFOIL_SECRET_API_TOKEN", "abc123")

    @task(secret_requests=[Secret(group="api", key="token")])
    def token_len() -> int:
        return len(current_context().secrets.get("api", "token"))

    @task(secret_requests=[Secret(group="api", key="token")])
    def other() -> str:
        return str(current_context().secrets.get("api", "missing"))

    assert token_len() == 6
    with pytest.raises(ExecutionFailedError, match="AIRFOIL_SECRET_API_MISSING"):
        other()
    with pytest.raises(ValueError, match="needs a group or a key"):
        Secret()


def test_cron_schedule_forms() -> None:
    assert CronSchedule(schedule="@daily").spec.expression == "0 0 * * *"
    tz = CronSchedule(schedule="CRON_TZ=Europe/Paris 0 3 * * *")
    assert (tz.spec.timezone, tz.spec.expression) == ("Europe/Paris", "0 3 * * *")
    with pytest.raises(DefinitionError, match="offset"):
        CronSchedule(schedule="0 3 * * *", offset="P1D")
    with pytest.raises(DefinitionError, match="invalid cron expression"):
        CronSchedule(schedule="every day")


def test_notifications_only_for_final_phases() -> None:
    note = Email(phases=[WorkflowExecutionPhase.FAILED], recipients_email=["a@b.c"])
    assert note.airfoil.spec.phases == ("failed",)
    with pytest.raises(DefinitionError, match="SUCCEEDED, FAILED"):
        Email(phases=[WorkflowExecutionPhase.RUNNING], recipients_email=["a@b.c"])


def test_launch_plan_names_and_options() -> None:
    @workflow
    def wf(x: int = 1) -> int:
        return heavy(x=x)

    plan = LaunchPlan.create(
        "compat_lp", wf, default_inputs={"x": 5}, max_parallelism=3,
        labels=flytekit.Labels({"team": "ml"}), annotations=flytekit.Annotations({"a": "b"}),
    )  # fmt: skip
    assert plan.name == "compat_lp" and plan.flyte_options["max_parallelism"] == 3
    assert plan.labels == {"team": "ml"}
    assert plan() == 5
    assert LaunchPlan.get_default_launch_plan(None, wf).name == wf.name


def test_remote_names_say_what_to_do() -> None:
    with pytest.raises(DefinitionError, match=r"airfoil\.client\.Client"):
        FlyteRemote(config=None)
    with pytest.raises(DefinitionError, match="import the task's Python definition"):
        reference_task(project="p", domain="d", name="t", version="v")
    with pytest.raises(DefinitionError, match="launch_plan"):
        reference_launch_plan(project="p", domain="d", name="lp", version="v")


def test_remote_files_and_datasets_are_refused() -> None:
    with pytest.raises(DefinitionError, match="download the remote file"):
        FlyteFile("s3://bucket/key.csv")
    with pytest.raises(DefinitionError, match="download the data in the task"):
        StructuredDataset(uri="s3://bucket/data.parquet")
    with pytest.raises(DefinitionError, match="the formats are 'parquet' and 'csv'"):
        StructuredDataset(dataframe=object(), file_format="orc")
    with pytest.raises(DefinitionError, match="no such file"):
        StructuredDataset(uri="/no/such/file.csv", file_format="csv")


def test_map_task_options() -> None:
    with pytest.raises(DefinitionError, match="min_success_ratio"):
        map_task(heavy, min_successes=2)

    @workflow
    def wf(xs: list[int]) -> list[int | None]:
        return map_task(heavy, concurrency=2, min_success_ratio=0.5)(x=xs)

    assert wf(xs=[1, 2]) == [1, 2]


def test_type_engine_register_checks_its_argument() -> None:
    with pytest.raises(DefinitionError, match="TypeTransformer instance"):
        TypeEngine.register(object())  # type: ignore[arg-type]


def test_on_failure_takes_a_task() -> None:
    with pytest.raises(DefinitionError, match="on_failure takes a @task"):

        @workflow(on_failure=lambda: None)
        def wf(x: int) -> int:
            return heavy(x=x)


def test_eager_needs_an_async_function() -> None:
    with pytest.raises(DefinitionError, match="async function"):

        @flytekit.eager
        def not_async(x: int) -> int:
            return x


def test_fixed_rate_and_workflow_failure_policy() -> None:
    rate = flytekit.FixedRate(duration=dt.timedelta(minutes=10))
    assert rate.spec.interval_s == 600
    policy = flytekit.WorkflowFailurePolicy.FAIL_AFTER_EXECUTABLE_NODES_COMPLETE

    @workflow(failure_policy=policy)
    def wf(x: int) -> int:
        return heavy(x=x)

    assert wf.failure_policy == "finish_what_can_run"


def test_shell_task_errors(tmp_path: Path) -> None:
    from airfoil.compat.flytekit.extras.tasks.shell import OutputLocation, ShellTask

    with pytest.raises(DefinitionError, match="script= or script_file="):
        ShellTask(name="neither")
    with pytest.raises(DefinitionError, match="FlyteFile or FlyteDirectory"):
        ShellTask(
            name="bad_out",
            script="true",
            output_locs=[OutputLocation(var="o", var_type=int, location="x")],
        )
    failing = ShellTask(
        name="failing", script="echo boom >&2; exit 3", inputs=flytekit.kwtypes(n=int)
    )
    with pytest.raises(ExecutionFailedError, match="exited with status 3: boom"):
        failing(n=1)
    with pytest.raises(DefinitionError, match=r"names \{inputs.nope\}, which is not one of"):
        ShellTask(name="unknown_placeholder", script="echo {inputs.nope}")
    script = tmp_path / "touch.sh"
    script.write_text("echo {inputs.word} > {outputs.o}")
    from_file = ShellTask(
        name="from_file",
        script_file=str(script),
        inputs=flytekit.kwtypes(word=str),
        output_locs=[OutputLocation(var="o", var_type=FlyteFile, location=str(tmp_path / "o"))],
    )
    assert Path(from_file(word="hi").path).read_text() == "hi\n"


def test_batch_size_is_a_list_annotation() -> None:
    @task
    def total(xs: typing.Annotated[list[int], flytekit.BatchSize(2)]) -> int:
        return sum(xs)

    assert total(xs=[1, 2, 3]) == 6
    with pytest.raises(DefinitionError, match="BatchSize takes"):
        flytekit.BatchSize(0)


def test_sqlite_task(tmp_path: Path) -> None:
    import sqlite3
    import zipfile

    import pandas as pd

    from airfoil.compat.flytekit.extras.sqlite3.task import SQLite3Config, SQLite3Task

    db = tmp_path / "nums.db"
    with sqlite3.connect(db) as con:
        con.execute("CREATE TABLE nums (n INTEGER)")
        con.executemany("INSERT INTO nums VALUES (?)", [(i,) for i in range(10)])
    zipped = tmp_path / "nums.zip"
    with zipfile.ZipFile(zipped, "w") as archive:
        archive.write(db, "nums.db")
    query = "SELECT n FROM nums WHERE n >= {{ .inputs.low }}"
    plain = SQLite3Task(
        name="plain_q", query_template=query, inputs=flytekit.kwtypes(low=int),
        output_schema_type=pd.DataFrame, task_config=SQLite3Config(uri=f"file://{db}"),
    )  # fmt: skip
    assert list(plain(low=7)["n"]) == [7, 8, 9]
    packed = SQLite3Task(
        name="zipped_q", query_template=query, inputs=flytekit.kwtypes(low=int),
        task_config=SQLite3Config(uri=str(zipped), compressed=True),
    )  # fmt: skip
    assert len(packed(low=5).open(pd.DataFrame).all()) == 5

    with pytest.raises(DefinitionError, match="is remote"):
        SQLite3Task(name="r", query_template="SELECT 1", task_config=SQLite3Config("https://x/db"))
    with pytest.raises(DefinitionError, match="names input"):
        SQLite3Task(name="u", query_template=query, task_config=SQLite3Config(str(db)))
    with pytest.raises(DefinitionError, match="task_config"):
        SQLite3Task(name="n", query_template="SELECT 1")
    broken = SQLite3Task(name="b", query_template="SELEC nope", task_config=SQLite3Config(str(db)))
    with pytest.raises(ExecutionFailedError, match="the query failed"):
        broken()


def double_it(x: int) -> int:
    return 2 * x


def test_python_function_task_takes_task_metadata() -> None:
    meta = flytekit.TaskMetadata(retries=2, cache=True, cache_version="7")
    t = flytekit.PythonFunctionTask(task_config=None, task_function=double_it, metadata=meta)
    assert t.spec.retries == 2 and t.spec.cache.enabled and t.spec.cache.version == "7"
    assert t(x=4) == 8
    with pytest.raises(DefinitionError, match="task_function"):
        flytekit.PythonFunctionTask(task_config=None)


def test_cache_ignore_input_vars_takes_one_name_as_a_string() -> None:
    # A string names one input (as the SDK's cache_ignore_inputs does); its letters were
    # taken as four input names and the task refused ("unknown inputs ['s', 'e', 'e', 'd']")
    @flytekit.task(cache=True, cache_version="1", cache_ignore_input_vars="seed")
    def draw(x: int, seed: int) -> int:
        return x

    assert draw.spec.cache.ignore_inputs == ("seed",)
    with pytest.raises(DefinitionError, match=r"unknown inputs \['sed'\]"):

        @flytekit.task(cache=True, cache_version="1", cache_ignore_input_vars=("sed",))
        def other(x: int, seed: int) -> int:
            return x


def test_a_forked_child_leaves_the_parents_sandbox_directory_alone(tmp_path: Path) -> None:
    """(adv26) The process's sandbox directory (``ctx.file_access``'s, outside a task) was
    removed by an exit hook that a forked child inherits: a child that exited normally
    removed it while the parent still wrote there. Now only the process that made it does."""
    import subprocess
    import sys

    script = tmp_path / "fork_then_exit.py"
    script.write_text(
        "import os, sys\n"
        "from airfoil.compat.flytekit._structured import FileAccess\n"
        "root = FileAccess().local_sandbox_dir\n"
        "print(root, flush=True)\n"
        "child = os.fork()\n"
        "if child == 0:\n"
        "    sys.exit(0)  # a normal exit: the exit hooks run\n"
        "os.waitpid(child, 0)\n"
        "print(os.path.isdir(root), flush=True)\n"
    )
    done = subprocess.run(
        [sys.executable, str(script)], capture_output=True, text=True, timeout=120, check=True
    )
    root, still_there = done.stdout.split()
    assert still_there == "True", "the child removed the parent's directory"
    assert not os.path.exists(root), "the parent removed it at its own exit"
