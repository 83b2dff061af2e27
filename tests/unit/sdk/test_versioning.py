"""Code versions in one process: reloads, unhashable reads, the manifest."""

from __future__ import annotations

import importlib
import json
import os
import subprocess
import sys
import textwrap
import warnings
from collections.abc import Iterator
from pathlib import Path

import pytest

from airfoil.sdk._versioning import CacheVersionWarning, compute_version, manifest_for


@pytest.fixture
def project(tmp_path: Path) -> Iterator[Path]:
    sys.path.insert(0, str(tmp_path))
    try:
        yield tmp_path
    finally:
        sys.path.remove(str(tmp_path))
        for name in [m for m in sys.modules if m.startswith("vproj_")]:
            del sys.modules[name]


def test_a_reloaded_module_gives_its_tasks_and_workflows_new_versions(project: Path) -> None:
    (project / "vproj_helpers.py").write_text("def helper(x):\n    return x + 1\n")
    (project / "vproj_flow.py").write_text(
        textwrap.dedent(
            """
            import airfoil as af
            import vproj_helpers

            @af.task(cache=True)
            def t(x: int) -> int:
                return vproj_helpers.helper(x)

            @af.workflow
            def wf(x: int = 1) -> int:
                return t(x=x)
            """
        )
    )
    flow = importlib.import_module("vproj_flow")
    helpers = sys.modules["vproj_helpers"]
    task_before, wf_before = flow.t.version, flow.wf.version
    assert flow.t.version == task_before  # stable while nothing changes
    (project / "vproj_helpers.py").write_text("def helper(x):\n    return x + 2\n")
    importlib.invalidate_caches()
    importlib.reload(helpers)
    # The same TaskDef and WorkflowDef objects (as a notebook holds them) see the new code.
    assert flow.t.version != task_before
    assert flow.wf.version != wf_before
    assert flow.wf.spec.nodes[0].task is not None
    assert flow.wf.spec.nodes[0].task.version == flow.t.version


def test_a_helper_defined_after_the_workflow_counts(project: Path) -> None:
    (project / "vproj_late.py").write_text(
        textwrap.dedent(
            """
            import airfoil as af

            @af.task(cache=True)
            def t(x: int) -> int:
                return late(x)

            @af.workflow
            def wf(x: int = 1) -> int:
                return t(x=x)

            def late(x):
                return x * 2
            """
        )
    )
    mod = importlib.import_module("vproj_late")
    manifest = compute_version(mod.t.fn).manifest
    assert "vproj_late.py:late" in manifest.components
    assert mod.wf.spec.nodes[0].task.version == mod.t.version  # type: ignore[union-attr]


def test_an_unhashable_read_warns_once_and_is_recorded(project: Path) -> None:
    (project / "vproj_unh.py").write_text(
        textwrap.dedent(
            """
            import io
            import airfoil as af

            BUFFER = io.StringIO("model weights")

            @af.task(cache=True)
            def t(x: int) -> int:
                return x + len(BUFFER.getvalue())
            """
        )
    )
    with warnings.catch_warnings(record=True) as at_definition:
        warnings.simplefilter("always")
        mod = importlib.import_module("vproj_unh")  # the task's definition warns...
    with warnings.catch_warnings(record=True) as later:
        warnings.simplefilter("always")
        mod.t.spec  # noqa: B018
        compute_version(mod.t.fn)  # ...and nothing after it warns again
    assert not [w for w in later if issubclass(w.category, CacheVersionWarning)]
    messages = [
        str(w.message) for w in at_definition if issubclass(w.category, CacheVersionWarning)
    ]
    assert len(messages) == 1
    assert at_definition[0].lineno == 7  # the task's line in the file
    assert "vproj_unh.py:BUFFER" in messages[0] and "cache_version=" in messages[0]
    manifest = compute_version(mod.t.fn, warn=False).manifest
    assert "StringIO" in manifest.unhashable["vproj_unh.py:BUFFER"]


def test_a_script_and_airfoil_run_get_one_version(tmp_path: Path) -> None:
    script = tmp_path / "pipe.py"
    script.write_text(
        textwrap.dedent(
            """
            import json, sys
            import airfoil as af

            CONFIG = {"k": 2}

            def helper(x):
                return x * CONFIG["k"]

            @af.task(cache=True)
            def t(x: int) -> int:
                return helper(x)

            if __name__ == "__main__":
                print(json.dumps({"version": t.version}))
            """
        )
    )
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(sys.path))
    as_script = subprocess.run(
        [sys.executable, str(script)], capture_output=True, text=True, env=env, check=True
    )
    as_module = subprocess.run(
        [sys.executable, "-c", "import json, pipe; print(json.dumps({'version': pipe.t.version}))"],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        check=True,
    )
    assert json.loads(as_script.stdout) == json.loads(as_module.stdout)


def test_an_object_that_fails_inspection_is_unhashable_not_fatal(project: Path) -> None:
    (project / "vproj_odd.py").write_text(
        textwrap.dedent(
            """
            import airfoil as af

            class Odd:
                def __getattribute__(self, name):
                    raise RuntimeError("no peeking")

            ODD = Odd()

            @af.task(cache=True, cache_version="1")
            def t(x: int) -> int:
                return x + (ODD is not None)
            """
        )
    )
    mod = importlib.import_module("vproj_odd")
    manifest = compute_version(mod.t.fn, warn=False).manifest
    assert "no peeking" in manifest.unhashable["vproj_odd.py:ODD"]


def test_a_task_types_config_is_in_its_versions_manifest() -> None:
    """A task whose version also hashes its type's config keeps a manifest under that version
    (with the config as a component), so explain can diff a config change."""
    from airfoil.core.code_versions import diff_versions
    from airfoil.sdk._task import task_of_type
    from airfoil.sdk._versioning import manifest_for

    def query(x: int) -> int:
        return x

    old = task_of_type("sql", {"query": "select 1"}, cache=True)(query)
    new = task_of_type("sql", {"query": "select 2"}, cache=True)(query)
    assert old.spec.version != new.spec.version
    before, after = manifest_for(old.spec.version), manifest_for(new.spec.version)
    assert before is not None and after is not None
    assert after.version == new.spec.version
    lines = diff_versions(before, after)
    assert lines[0] == "~ config changed:"
    assert any("select 1" in line for line in lines) and any("select 2" in line for line in lines)


def test_pandas_constants_have_a_canonical_form() -> None:
    """A frame, series or index read by a task is hashed by its labels, dtypes, index and
    rows (a change to any is a new version); one whose cells cannot be hashed is named as
    unhashable, as before."""
    pd = pytest.importorskip("pandas")
    from airfoil.sdk._versioning._canonical import Unhashable, canonical

    def text(value: object) -> str:
        return canonical(value, "RATES", lambda _v, _p: None)

    base = text(pd.DataFrame({"rate": [1, 2]}))
    assert base == text(pd.DataFrame({"rate": [1, 2]}))  # the same in every process
    others = [
        pd.DataFrame({"rate": [1, 3]}),  # a value
        pd.DataFrame({"fee": [1, 2]}),  # a column's name
        pd.DataFrame({"rate": [1.0, 2.0]}),  # a dtype
        pd.DataFrame({"rate": [1, 2]}, index=[5, 6]),  # the index
        pd.DataFrame({"rate": [2, 1]}),  # the order of the rows
    ]
    assert len({base, *(text(o) for o in others)}) == 1 + len(others)
    assert text(pd.Series([1, 2], name="a")) != text(pd.Series([1, 2], name="b"))
    with pytest.raises(Unhashable, match="cells cannot be hashed"):
        text(pd.DataFrame({"rate": [[1], [2]]}))


def test_imports_that_cannot_be_read_from_the_bytecode_are_named_not_fatal() -> None:
    import types

    def f() -> object:
        import json

        return json

    broken = types.FunctionType(f.__code__.replace(co_names=()), f.__globals__, "f")
    manifest = compute_version(broken, warn=False).manifest
    (reason,) = [r for name, r in manifest.unhashable.items() if name.endswith(".<imports>")]
    assert "IndexError" in reason


def test_module_state_changed_below_the_definitions_is_in_the_version(project: Path) -> None:
    # A registry filled, a config dict updated and a method patched below the task rebind
    # no global the version read at the decorator: the first use must see them (a version
    # taken from the definition hit the cache after `scale` or CONFIG was edited).
    (project / "vproj_reg.py").write_text(
        textwrap.dedent(
            """
            import airfoil as af

            HANDLERS = {}
            CONFIG = {}

            class Scaler:
                def apply(self, x):
                    return x

            S = Scaler()

            def register(f):
                HANDLERS[f.__qualname__] = f
                return f

            @af.task(cache=True)
            def t(x: int) -> int:
                return S.apply(HANDLERS["scale"](x)) * CONFIG["k"]

            @af.workflow
            def wf(x: int = 1) -> int:
                return t(x=x)

            plan = af.LaunchPlan(wf, "nightly")

            @register
            def scale(x):
                return x * 2

            CONFIG["k"] = 3

            def offset(self, x):
                return x + 7

            Scaler.apply = offset
            """
        )
    )
    mod = importlib.import_module("vproj_reg")
    version = mod.t.version
    assert version == compute_version(mod.t.fn).version  # the module as it is after import
    manifest = manifest_for(version)
    assert manifest is not None
    texts = {label: c.text for label, c in manifest.components.items()}
    assert texts["vproj_reg.py:HANDLERS"] == "{'scale':vproj_reg.py:scale}"
    assert "x * 2" in texts["vproj_reg.py:scale"]
    assert texts["vproj_reg.py:CONFIG"] == "{'k':3}"
    assert "x + 7" in texts["vproj_reg.py:offset"]
    assert mod.wf.spec.nodes[0].task.version == version  # type: ignore[union-attr]
    assert mod.plan.spec.workflow == mod.wf.spec
    assert mod.plan.spec.workflow.nodes[0].task.version == version  # type: ignore[union-attr]


def test_a_version_is_computed_once_per_definition_and_first_use(project: Path) -> None:
    (project / "vproj_once.py").write_text(
        "import airfoil as af\n\n@af.task(cache=True)\ndef t(x: int) -> int:\n    return x\n"
    )
    mod = importlib.import_module("vproj_once")
    first = mod.t.spec
    assert mod.t.spec is first  # not recomputed at every use


def test_reading_a_modules_name_or_file_keeps_one_version_across_checkouts(
    tmp_path: Path,
) -> None:
    # `f.__name__` reads the module's __name__ too ('pipe' imported, '__main__' as a script)
    # and `Path(__file__)` its absolute path: both entered the version, so a script and
    # `airfoil run`, two checkouts, and a server's worker (which unpacks the package
    # elsewhere, and then does not cache) each got a version of their own.
    source = textwrap.dedent(
        """
        import json
        from pathlib import Path
        import airfoil as af

        class Step:
            def describe(self):
                return type(self).__name__

        def label(f):
            return f.__name__

        @af.task(cache=True)
        def t(x: int) -> str:
            return label(t) + Step().describe() + str(Path(__file__).parent / "data.txt")

        if __name__ == "__main__":
            print(json.dumps(t.version))
        """
    )
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(sys.path))
    versions = []
    for checkout in ("alice", "bob"):
        (tmp_path / checkout).mkdir()
        script = tmp_path / checkout / "pipe.py"
        script.write_text(source)
        for argv in ([str(script)], ["-c", "import json, pipe; print(json.dumps(pipe.t.version))"]):
            done = subprocess.run(
                [sys.executable, *argv],
                capture_output=True,
                text=True,
                env=env,
                cwd=script.parent,
                check=True,
            )
            versions.append(json.loads(done.stdout))
    assert len(set(versions)) == 1, versions


def test_an_attribute_set_on_a_helper_function_is_in_the_version(project: Path) -> None:
    # `h.factor = 2` is not in h's code: editing it to 3 hit the old entry.
    (project / "vproj_attr.py").write_text(
        textwrap.dedent(
            """
            import airfoil as af

            def h(x):
                return x * h.factor

            h.factor = 2
            h.unread = object()  # read by nothing: neither hashed nor warned about

            @af.task(cache=True)
            def t(x: int) -> int:
                return h(x)
            """
        )
    )
    with warnings.catch_warnings():
        warnings.simplefilter("error", CacheVersionWarning)
        mod = importlib.import_module("vproj_attr")
        before = compute_version(mod.t.fn)
    assert before.manifest.components["vproj_attr.py:h.factor"].text == "2"
    mod.h.factor = 3
    assert compute_version(mod.t.fn).version != before.version


def test_the_python_minor_version_is_a_component_of_every_version(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import airfoil.sdk._versioning as versioning

    (project / "vproj_py.py").write_text(
        "import airfoil as af\n\n@af.task(cache=True)\ndef t(x: int) -> float:\n"
        "    return sum([0.1] * 10) + x\n"
    )
    mod = importlib.import_module("vproj_py")
    here = compute_version(mod.t.fn)
    minor = f"python {sys.version_info.major}.{sys.version_info.minor}"
    assert here.manifest.components["<python>"].text == minor
    # Another interpreter (3.12 sums floats with compensation: another result) gets another
    # version, so neither is served the other's results.
    monkeypatch.setattr(versioning, "_python", lambda: "python 3.99")
    there = compute_version(mod.t.fn)
    assert there.version != here.version
    assert there.manifest.components["<python>"].text == "python 3.99"
    assert {
        k
        for k, v in there.manifest.components.items()
        if v.digest != (here.manifest.components[k].digest)
    } == {"<python>"}
