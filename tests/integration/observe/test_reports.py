"""Reports attached by real runs (``af.current_context().report``) are stored with their
attempt on the inline and process executors, found again per node (newest attempt that
reported), and cost nothing for a task that does not report (issue 15)."""

from __future__ import annotations

import importlib
import sys
import textwrap
import uuid
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest

from airfoil.core.errors import InvalidInputError, NotFoundError
from airfoil.core.reports import latest_report
from airfoil.local import LocalRuntime, convert_inputs, spec_of
from airfoil.sdk._report import Report
from airfoil.settings import AirfoilSettings

pytestmark = pytest.mark.integration

TASKS = textwrap.dedent(
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import pandas as pd

    import airfoil as af


    @af.task
    def reported(n: int) -> int:
        rep = af.current_context().report
        rep.markdown("# Training\\n\\n*loss* fell to **0.1**")
        rep.table(pd.DataFrame({"step": range(n), "loss": [1 / (i + 1) for i in range(n)]}),
                  title="losses", max_rows=3)
        fig, ax = plt.subplots()
        ax.plot([1, 2, 3])
        rep.figure(fig, title="curve")
        plt.close(fig)
        rep.html("<p id='raw'>raw html</p>")
        return n


    @af.task
    def quiet(n: int) -> int:
        return n


    @af.task(retries=1)
    def flaky(n: int) -> int:
        ctx = af.current_context()
        ctx.report.markdown(f"attempt {ctx.attempt}")
        if ctx.attempt == 1:
            raise ValueError("first try fails")
        return n


    @af.task
    def bad_figure(n: int) -> int:
        af.current_context().report.figure("not a figure")
        return n
    """
)


@pytest.fixture
def tasks(tmp_path: Path) -> Iterator[tuple[ModuleType, Path]]:
    code = tmp_path / "code"
    code.mkdir()
    name = f"reporting_{uuid.uuid4().hex[:8]}"
    (code / f"{name}.py").write_text(TASKS)
    sys.path.insert(0, str(code))
    try:
        yield importlib.import_module(name), code
    finally:
        sys.path.remove(str(code))
        sys.modules.pop(name, None)


def _run(rt: LocalRuntime, task: object, code: Path, **inputs: object) -> str:
    engine = rt.engine()
    values = convert_inputs(task, inputs, rt)  # type: ignore[arg-type]
    record = engine.launch(spec_of(task), values, code_root=str(code))  # type: ignore[arg-type]
    return engine.drive(record.id).id


def _report(rt: LocalRuntime, eid: str, node: str = "n0") -> tuple[int, str]:
    rep = latest_report(rt.blobs, eid, node, rt.meta.get_node(eid, node).attempts)
    return rep.attempt, rep.html


@pytest.mark.parametrize("executor", ["inline", "process"])
def test_a_report_is_stored_with_its_attempt(executor: str, tasks: tuple[ModuleType, Path]) -> None:
    module, code = tasks
    rt = LocalRuntime(AirfoilSettings(executor=executor, max_parallel=1))  # type: ignore[arg-type]
    try:
        eid = _run(rt, module.reported, code, n=5)
        attempt, page = _report(rt, eid)
        assert attempt == 1
        assert page.startswith("<!doctype html>") and page.endswith("</html>")
        assert "<h1>Training</h1>" in page and "<em>loss</em>" in page
        assert "<h3>losses</h3>" in page and page.count("<tr") == 4  # header + 3 rows
        assert "first 3 of 5 rows" in page
        assert '<img alt="curve" src="data:image/png;base64,iVBOR' in page  # a PNG
        assert "<p id='raw'>raw html</p>" in page
        quiet = _run(rt, module.quiet, code, n=1)
        with pytest.raises(NotFoundError, match="did not call af"):
            _report(rt, quiet)
        reports = Path(rt.settings.home) / "blobs" / "reports"
        assert [p.parent.parent.parent.name for p in reports.rglob("report.html")] == [eid]
    finally:
        rt.close()


def test_the_newest_attempt_that_reported_is_shown(tasks: tuple[ModuleType, Path]) -> None:
    module, code = tasks
    rt = LocalRuntime(AirfoilSettings(executor="inline"))
    try:
        eid = _run(rt, module.flaky, code, n=1)
        attempt, page = _report(rt, eid)
        assert attempt == 2 and "<p>attempt 2</p>" in page
        bad = _run(rt, module.bad_figure, code, n=1)
        node = rt.meta.get_node(bad, "n0")
        assert node.error is not None and "is not a figure" in node.error.message
    finally:
        rt.close()


def test_bad_parts_are_refused_where_they_are_passed() -> None:
    rep = Report("t")
    assert not rep
    with pytest.raises(InvalidInputError, match="not a table"):
        rep.table(42)
    with pytest.raises(InvalidInputError, match="takes a str"):
        rep.markdown(b"x")  # type: ignore[arg-type]
    rep.table([{"a": 1}, {"a": 2}]).table({"b": [3]})
    assert rep and rep.render().count("<table") == 2
