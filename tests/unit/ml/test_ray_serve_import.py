"""``airfoil.ml._ray_serve`` imports cleanly where warnings are errors (the unit tier, a
program run with ``-W error``): Ray Serve's own pydantic deprecation warnings, raised as its
config models are defined, are hidden at that import and nowhere else. (Before, the import
raised ``PydanticDeprecatedSince20`` from ``ray/serve/_private/config.py``.)"""

from __future__ import annotations

import subprocess
import sys
import textwrap
from importlib.util import find_spec

import pytest

pytestmark = [
    pytest.mark.unit,
    pytest.mark.skipif(find_spec("ray") is None, reason="Ray: pip install 'airfoil[ray]'"),
]


_FRESH = textwrap.dedent(
    """
    import warnings

    before = list(warnings.filters)
    import airfoil.ml._ray_serve
    from pydantic.warnings import PydanticDeprecatedSince20

    assert "ray.serve" in __import__("sys").modules
    # Ray and urllib3 add filters of their own warnings; none that hides pydantic's is left
    left = [
        f for f in warnings.filters
        if f not in before and f[0] == "ignore" and issubclass(PydanticDeprecatedSince20, f[2])
    ]
    assert not left, left
    try:  # the same category from anywhere else is still an error
        warnings.warn(PydanticDeprecatedSince20("ours"), stacklevel=1)
    except PydanticDeprecatedSince20:
        print("still an error")
    """
)


def test_the_ray_serve_module_imports_in_a_fresh_process_where_warnings_are_errors() -> None:
    done = subprocess.run(
        [sys.executable, "-W", "error", "-c", _FRESH],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.strip() == "still an error"


def test_the_ray_serve_module_imports_under_the_suites_warning_filters() -> None:
    import airfoil.ml._ray_serve as ray_serve

    assert ray_serve.serve.__name__ == "ray.serve"
