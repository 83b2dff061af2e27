"""The Airfoil server: ``create_app(config)`` (FastAPI) with the engine loop in-process.

Routes are thin (``_routes``), logic lives in services (``_services``) that take the stores and
the clock as arguments, and the wire models come from :mod:`airfoil.wire`. The server never
imports user code: it receives specs as records and converts launch inputs from JSON with the
type specs alone; workers run the code of registered packages.
"""

from airfoil.server._app import ServerConfig, create_app

__all__ = ["ServerConfig", "create_app"]
