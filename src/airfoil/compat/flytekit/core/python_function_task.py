"""``flytekit.core.python_function_task``: the same objects as the top-level names."""

from airfoil.compat.flytekit._decorators import PythonFunctionTask

__all__ = ["PythonFunctionTask"]
