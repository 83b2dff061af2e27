"""The Airfoil server: ``create_app(config)`` (FastAPI) with its engine loop.

Routes are thin (``_routes``), logic lives in services (``_services``) that take the stores and
the clock as arguments, and the wire models come from :mod:`airfoil.wire`. The server never
imports user code: it receives specs as records and converts launch inputs from JSON with the
type specs alone; workers run the code of registered packages.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from airfoil.server._app import create_app
    from airfoil.server._config import ServerConfig

__all__ = ["ServerConfig", "create_app"]


def __getattr__(name: str) -> Any:
    # Imported on first use: the server's engine process (airfoil.server._engine_process)
    # imports this package without the API (FastAPI, the routes) it never serves.
    if name == "create_app":
        from airfoil.server._app import create_app

        return create_app
    if name == "ServerConfig":
        from airfoil.server._config import ServerConfig

        return ServerConfig
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
