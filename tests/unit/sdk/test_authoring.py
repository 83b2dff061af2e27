"""Authoring API: decorators bare and with options, interfaces from signatures and docstrings,
defaults, subworkflows, versions."""

from __future__ import annotations

from typing import NamedTuple

import pytest

import airfoil as af

pytestmark = pytest.mark.unit


@af.task(
    cache=True,
    retries=2,
    timeout="10m",
    requests=af.Resources(cpu="1", mem="512Mi"),
    limits=af.Resources(gpu=1),
    interruptible=True,
    environment={"A": "1"},
    secret_requests=["token"],
    cache_version="7",
    cache_serialize=True,
    cache_ignore_inputs=["verbose"],
    name="custom.name",
)
def configured(x: int, verbose: bool = False) -> int:
    """Do the thing.

    Args:
        x: the number to use.
        verbose: say more.

    Returns:
        the same number.
    """
    return x


class Out(NamedTuple):
    total: int
    label: str


@af.task
def plain(a: int, b: int = 2) -> Out:
    return Out(a + b, "sum")


def test_task_options_land_in_the_spec() -> None:
    spec = configured.spec
    assert spec.name == "custom.name"
    assert spec.retries == 2 and spec.timeout_s == 600.0
    assert spec.requests.cpu == 1.0 and spec.requests.mem == 512 * 2**20
    assert spec.limits.gpu == 1
    assert spec.interruptible and spec.environment == {"A": "1"}
    assert spec.secret_requests == ("token",)
    assert spec.cache.enabled and spec.cache.version == "7" and spec.cache.serialize
    assert spec.cache.ignore_inputs == ("verbose",)
    assert spec.docs.startswith("Do the thing.")
    x, verbose = spec.interface.inputs
    assert x.description == "the number to use." and verbose.description == "say more."
    assert verbose.has_default and not x.has_default
    assert spec.interface.outputs[0].description == "the same number."


def test_namedtuple_outputs_and_defaults() -> None:
    iface = plain.spec.interface
    assert [p.name for p in iface.outputs] == ["total", "label"]
    assert iface.output_style == "named"
    assert plain.spec.name.endswith("test_authoring.plain")


def test_task_stays_callable_as_plain_python() -> None:
    assert plain.run_python(1, 2) == Out(3, "sum")
    assert plain.fn(1) == Out(3, "sum")


def test_subworkflow_nodes_nest() -> None:
    @af.workflow
    def inner(a: int) -> int:
        return plain(a=a).total

    @af.workflow
    def outer(a: int = 1) -> int:
        return inner(a=inner(a=a))

    kinds = [(n.id, n.kind) for n in outer.spec.nodes]
    assert kinds == [("n0", "workflow"), ("n1", "workflow")]
    assert outer.spec.nodes[0].workflow is not None
    assert outer.spec.interface.inputs[0].has_default


def test_version_changes_with_code_and_helpers(tmp_path: pytest.TempPathFactory) -> None:
    import importlib
    import sys

    root = tmp_path  # type: ignore[assignment]
    pkg = root / "verpkg"  # type: ignore[operator]
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "helpers.py").write_text("def helper(x):\n    return x + 1\n")
    (pkg / "other.py").write_text("def unrelated():\n    return 1\n")
    (pkg / "tasks.py").write_text(
        "import airfoil as af\nfrom verpkg.helpers import helper\n"
        "@af.task\ndef t(x: int) -> int:\n    return helper(x)\n"
    )
    sys.path.insert(0, str(root))
    try:

        def version() -> str:
            for m in [m for m in sys.modules if m.startswith("verpkg")]:
                del sys.modules[m]
            importlib.invalidate_caches()
            return importlib.import_module("verpkg.tasks").t.version

        v1 = version()
        assert version() == v1  # deterministic
        (pkg / "other.py").write_text("def unrelated():\n    return 2\n")
        assert version() == v1  # unrelated change
        (pkg / "helpers.py").write_text("def helper(x):\n    return x + 2\n")
        v2 = version()
        assert v2 != v1  # helper changed
        (pkg / "tasks.py").write_text(
            "import airfoil as af\nfrom verpkg.helpers import helper\n"
            "@af.task\ndef t(x: int) -> int:\n    return helper(x) * 1\n"
        )
        assert version() not in (v1, v2)  # own source changed
    finally:
        sys.path.remove(str(root))
        for m in [m for m in sys.modules if m.startswith("verpkg")]:
            del sys.modules[m]


def test_current_context_outside_a_run() -> None:
    ctx = af.current_context()
    assert ctx.execution_id == "local"
    assert ctx.logger is not None
    # Asking for it outside a run must not make later task calls look like nested calls.
    from airfoil.sdk._context import _current

    assert _current.get() is None
