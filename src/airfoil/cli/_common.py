"""Shared CLI plumbing: settings, the runtime, error reporting, consoles."""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable
from typing import Any, NoReturn, TypeVar

import typer
from rich.console import Console

from airfoil.core.errors import AirfoilError, ExecutionFailedError, UserError

__all__ = ["err_console", "fail", "handle_errors", "out_console", "runtime"]

F = TypeVar("F", bound=Callable[..., Any])

out_console = Console(highlight=False, soft_wrap=True)
err_console = Console(stderr=True, highlight=False)


def fail(message: str, code: int = 2) -> NoReturn:
    """Print an error (no traceback) and exit."""
    err_console.print(f"[bold red]error:[/] {message}", markup=True, highlight=False)
    raise typer.Exit(code)


def handle_errors(fn: F) -> F:
    """Turn Airfoil errors into a clear message and a non-zero exit code."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except typer.Exit:
            raise
        except ExecutionFailedError as exc:
            fail(str(exc), code=1)
        except UserError as exc:
            fail(str(exc), code=2)
        except AirfoilError as exc:
            fail(f"{type(exc).__name__}: {exc}", code=3)
        except KeyboardInterrupt:
            err_console.print("interrupted")
            raise typer.Exit(130) from None

    return wrapper  # type: ignore[return-value]


def runtime() -> Any:
    """The local runtime from ``AIRFOIL_*`` settings."""
    from pydantic import ValidationError

    from airfoil.local import get_runtime
    from airfoil.settings import AirfoilSettings

    try:
        settings = AirfoilSettings()
    except ValidationError as exc:
        first = exc.errors()[0]
        fail(f"bad AIRFOIL_{str(first['loc'][0]).upper()} setting: {first['msg']}")
    return get_runtime(settings)


def is_tty() -> bool:
    return sys.stderr.isatty()
