"""The flytekit names added for the idioms of the public flytesnacks examples: their
behaviour outside the corpus programs (which check them against flytekit's output), and the
errors of their bad input."""

from __future__ import annotations

import datetime as dt
import functools
import os
import threading
import time
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from airfoil.compat.flytekit import ImageSpec, Secret, task, workflow
from airfoil.compat.flytekit.core.context_manager import FlyteContextManager
from airfoil.compat.flytekit.core.node_creation import create_node
from airfoil.compat.flytekit.deck import MarkdownRenderer, SourceCodeRenderer, TopFrameRenderer
from airfoil.compat.flytekit.exceptions.eager import EagerException
from airfoil.compat.flytekit.experimental import EagerException as OldEagerException
from airfoil.compat.flytekit.testing import SecretsManager
from airfoil.compat.flytekit.types.directory import FlyteDirectory
from airfoil.compat.flytekit.types.file import FlyteFile
from airfoil.compat.flytekit.types.pickle import FlytePickle
from airfoil.compat.flytekit.types.schema import FlyteSchema
from airfoil.core.errors import DefinitionError, ExecutionFailedError
from airfoil.types import ConversionError

pytestmark = pytest.mark.integration


def test_crawl_walks_every_file_with_flytekits_shapes(tmp_path: Path) -> None:
    (tmp_path / "a" / "b").mkdir(parents=True)
    for rel in ("top.txt", "a/mid.txt", "a/b/deep.txt"):
        (tmp_path / rel).write_text(rel)
    d = FlyteDirectory(tmp_path)
    rels = sorted(rel for _, rel in d.crawl())
    assert rels == ["a/b/deep.txt", "a/mid.txt", "top.txt"]
    assert {base for base, _ in d.crawl()} == {str(tmp_path)}
    assert sorted(rel for _, rel in d.crawl(maxdepth=1)) == ["top.txt"]
    (detail,) = [info for _, info in d.crawl(detail=True) if "top.txt" in info]
    assert detail["top.txt"]["size"] == len("top.txt")


def test_new_paths_are_relative_and_stems_have_no_extension() -> None:
    with pytest.raises(ValueError, match="give a relative path"):
        FlyteFile.new("/etc/passwd")
    with pytest.raises(ValueError, match="give a relative path"):
        FlyteDirectory.new("/tmp/x")
    with pytest.raises(ValueError, match="a stem has no extension"):
        FlyteDirectory.new_remote("out.csv")


@task
def _write_tree(n: int) -> FlyteDirectory:
    out = FlyteDirectory.new_remote("parts")
    for i in range(n):
        with out.new_file(f"sub/part{i}.txt").open("w") as fh:  # parents are made
            fh.write(str(i))
    return out


@task
def _sum_tree(d: FlyteDirectory) -> int:
    return sum(int(FlyteFile(os.path.join(b, r)).open().read()) for b, r in d.crawl())


@workflow
def _tree_wf(n: int) -> int:
    return _sum_tree(d=_write_tree(n=n))


def test_a_directory_made_with_new_remote_travels_by_content() -> None:
    assert _tree_wf(n=4) == 6


@task
def _as_pickle(n: int) -> FlytePickle:
    return complex(n, 1)


@task
def _real(p: FlytePickle[complex]) -> float:
    return p.real


@workflow
def _pickle_wf(n: int) -> float:
    return _real(p=_as_pickle(n=n))


def test_flytepickle_carries_any_object() -> None:
    assert _pickle_wf(n=3) == 3.0


def test_secrets_manager_names_the_local_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    sm = SecretsManager()
    var = sm.get_secrets_env_var("my-group", "api_key")
    assert var == "AIRFOIL_SECRET_MY_GROUP_API_KEY"
    with pytest.raises(ValueError, match="AIRFOIL_SECRET_MY_GROUP_API_KEY"):
        sm.get("my-group", "api_key")
    monkeypatch.setenv(var, "k3y")
    assert sm.get("my-group", "api_key") == "k3y"
    assert sm.get("my-group", "api_key", encode_mode="rb") == b"k3y"
    # outside a task: the path a task would be given (flytekit's is /etc/secrets/<g>/<k>)
    assert sm.get_secrets_file("my-group", "api_key").endswith("/my-group/api_key")

    @task(secret_requests=[Secret(group="my-group", key="api_key")])
    def reads() -> str:
        from airfoil.compat.flytekit import current_context

        return current_context().secrets.get("my-group", "api_key")

    assert reads() == "k3y"  # the variable the manager named is the one a run reads


def test_image_spec_builders_record_and_is_container_is_true() -> None:
    base = ImageSpec(name="img", packages=["pandas"], registry="ghcr.io/me")
    more = base.with_packages("torch").with_apt_packages(["git"]).with_commands("echo hi")
    assert more.settings["packages"] == ["pandas", "torch"]
    assert more.settings["apt_packages"] == ["git"] and more.settings["commands"] == ["echo hi"]
    assert base.settings["packages"] == ["pandas"]  # copies, as flytekit's
    assert more.force_push().settings["force_push"] is True
    assert base.image_name == "ghcr.io/me/img"
    assert base.is_container()


def test_renderers_make_html() -> None:
    df = pd.DataFrame({"a": range(20)})
    html = TopFrameRenderer(3).to_html(df)
    assert html.startswith("<table") and "..." in html  # 20 rows cut to 3
    assert "<h1>" in MarkdownRenderer().to_html("# Title") or "<pre>" in MarkdownRenderer().to_html(
        "# Title"
    )
    assert "def" in SourceCodeRenderer().to_html("def f(): pass")


def test_context_manager_and_eager_exception_paths() -> None:
    ctx = FlyteContextManager.current_context()
    assert ctx.execution_state is None
    assert OldEagerException is EagerException


@task
def _note(name: str) -> None:
    print(f"cleaned {name}")


@workflow
def _cleanup_wf(name: str) -> None:
    _note(name=name)


@task
def _boom() -> None:
    raise RuntimeError("boom")


def test_on_failure_takes_a_workflow_and_refuses_anything_else(
    capsys: pytest.CaptureFixture[str],
) -> None:
    @workflow(on_failure=_cleanup_wf)
    def wf(name: str) -> None:
        _boom()

    with pytest.raises(ExecutionFailedError, match="boom"):
        wf(name="db")
    assert "cleaned db" in capsys.readouterr().out
    with pytest.raises(DefinitionError, match="on_failure takes a @task or a @workflow"):

        @workflow(on_failure=print)
        def bad(name: str) -> None:
            _boom()


@task
def _report(data: list[float]) -> dict:
    return {"mean": sum(data) / len(data), "n": len(data)}


@task
def _finalize(report: dict, title: str) -> dict:
    return {"title": title, **report}


@task
def _rejected() -> dict:
    return {"invalid": True}


@workflow
def _review_wf(data: list[float]) -> dict:
    from airfoil.compat.flytekit import approve, conditional, wait_for_input

    report = _report(data=data)
    title = wait_for_input("title", timeout=dt.timedelta(seconds=30), expected_type=str)
    passed = wait_for_input("passes", timeout=dt.timedelta(seconds=30), expected_type=bool)
    report >> title
    approved = approve(report, "ok-report", timeout=dt.timedelta(seconds=30))
    return (
        conditional("review")
        .if_(passed.is_true())
        .then(_finalize(report=approved, title=title))
        .else_()
        .then(_rejected())
    )


def _answer_when_waiting(answers: dict[str, str]) -> threading.Thread:
    from airfoil.core.errors import InvalidInputError, NotFoundError
    from airfoil.engine.signals import send_signal
    from airfoil.local import get_runtime

    def run() -> None:
        rt = get_runtime()
        pending = dict(answers)
        deadline = time.time() + 25
        while pending and time.time() < deadline:
            running = rt.meta.list_executions(phase="running", limit=1)
            for name in list(pending):
                if running:
                    try:
                        send_signal(rt.meta, rt.blobs, rt.types, running[0].id, name, pending[name])
                        del pending[name]
                    except (NotFoundError, InvalidInputError):
                        pass
            time.sleep(0.05)

    t = threading.Thread(target=run, daemon=True)
    t.start()
    return t


@pytest.mark.parametrize(
    ("passes", "expected"),
    [("true", {"title": "Q3", "mean": 2.0, "n": 3}), ("false", {"invalid": True})],
)
def test_flytekit_gates_wait_for_real_signals(passes: str, expected: dict) -> None:
    """flytesnacks' review idiom (wait_for_input, ``report >> title``, approve, a conditional
    on a bool input) with the compat names: the run waits for each signal and goes on with it."""
    t = _answer_when_waiting({"title": "Q3", "passes": passes, "ok-report": "true"})
    assert _review_wf(data=[1.0, 2.0, 3.0]) == expected
    t.join(5)


@task
def _open_run() -> None:
    print("open")


@task
def _close_run() -> None:
    print("close")


@task
def _scale(x: float) -> float:
    return x * 3


@task
def _shift(x: float) -> float:
    return x + 0.5


def _bracketed(fn: Any) -> Any:
    """flytesnacks' setup/teardown workflow decorator: order the body's first and last nodes
    after / before the nodes it adds, through ctx.compilation_state.nodes."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        ctx = FlyteContextManager.current_context()
        start = create_node(_open_run)
        outputs = fn(*args, **kwargs)
        end = create_node(_close_run)
        assert ctx.compilation_state is not None
        body = ctx.compilation_state.nodes
        start >> body[1]
        body[-2] >> end
        return outputs

    return wrapper


@workflow
@_bracketed
def _bracketed_wf(x: float) -> float:
    return _shift(x=_scale(x=x))


def test_a_workflow_decorator_orders_nodes_through_the_compilation_state() -> None:
    assert FlyteContextManager.current_context().compilation_state is None  # not compiling
    nodes = {n.id: n for n in _bracketed_wf.spec.nodes}
    assert sorted(nodes) == ["n0", "n1", "n2", "n3"]
    assert "n0" in nodes["n1"].upstream  # _scale after _open_run
    assert "n2" in nodes["n3"].upstream  # _close_run after _shift
    assert _bracketed_wf(x=2.0) == 6.5


def test_a_generic_sql_task_runs_only_mocked_and_says_so() -> None:
    import pandas as pd

    from airfoil.compat.flytekit import SQLTask, TaskMetadata, kwtypes
    from airfoil.compat.flytekit.testing import task_mock
    from airfoil.compat.flytekit.types.schema import FlyteSchema

    sql = SQLTask(
        "top-rows",
        query_template="SELECT * FROM t WHERE n > {{ .inputs.n }}",
        inputs=kwtypes(n=int),
        outputs=kwtypes(results=FlyteSchema),
        metadata=TaskMetadata(retries=0),
    )
    with pytest.raises(ExecutionFailedError, match=r"generic SQL task.*task_mock"):
        sql(n=1)
    with task_mock(sql) as mock:
        mock.return_value = pd.DataFrame({"n": [2, 3]})
        got = sql(n=1)
        assert isinstance(got, FlyteSchema)
        assert got.open().all()["n"].tolist() == [2, 3]
    with pytest.raises(DefinitionError, match="TaskMetadata"):
        SQLTask("q", query_template="SELECT 1", metadata={"retries": 1})
    with pytest.raises(DefinitionError, match="give the task a name"):
        SQLTask("", query_template="SELECT 1")


@task
def _passes(s: FlyteSchema) -> FlyteSchema:
    return s


def test_a_flyte_schema_is_made_from_the_parquet_a_task_wrote(tmp_path: Path) -> None:
    # flytesnacks' custom objects example: FlyteSchema(temp_dir) in a dataclass field
    frame = pd.DataFrame({"Name": ["Tom", "Jo"], "Age": [20, 22]})
    (tmp_path / "table").mkdir()
    frame.to_parquet(tmp_path / "table" / "part.parquet")
    read = _passes(s=FlyteSchema(str(tmp_path / "table")))  # a directory of Parquet files
    assert read.open().all().equals(frame)
    assert FlyteSchema[{"Name": str}] is FlyteSchema
    with pytest.raises(DefinitionError, match="no such file or directory"):
        FlyteSchema(str(tmp_path / "missing"))
    with pytest.raises(DefinitionError, match="local files only"):
        FlyteSchema("s3://bucket/table")


def test_crawl_lists_the_files_the_stored_directory_holds(tmp_path: Path) -> None:
    """A linked folder's files are stored with the value (``Directory.listing``): ``crawl``
    lists them too, in walk order (a folder's files, then its subfolders'; bottom-up with
    ``topdown=False``), and a loop is the storing's error, not an endless walk."""
    outside = tmp_path / "outside"
    (outside / "deeper").mkdir(parents=True)
    (outside / "linked.txt").write_text("l")
    (outside / "deeper" / "d.txt").write_text("d")
    top = tmp_path / "top"
    (top / "b").mkdir(parents=True)
    (top / "z.txt").write_text("z")
    (top / "b" / "m.txt").write_text("m")
    (top / "a").symlink_to(outside, target_is_directory=True)
    d = FlyteDirectory(top)
    rels = [rel for _, rel in d.crawl()]
    assert sorted(rels) == [r.replace("/", os.sep) for r in d.listing()]
    assert rels == ["z.txt", "a/linked.txt", "a/deeper/d.txt", "b/m.txt"]
    assert [rel for _, rel in d.crawl(topdown=False)] == [
        "a/deeper/d.txt",
        "a/linked.txt",
        "b/m.txt",
        "z.txt",
    ]
    assert [rel for _, rel in d.crawl(maxdepth=2)] == ["z.txt", "a/linked.txt", "b/m.txt"]
    (outside / "deeper" / "loop").symlink_to(outside, target_is_directory=True)
    with pytest.raises(ConversionError, match="a loop"):
        list(d.crawl())
