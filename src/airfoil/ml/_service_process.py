"""What an ``airfoil serve`` process does, from a model reference to a serving uvicorn.

Shared by the command (a cold process) and the zygote's forked replicas
(:mod:`airfoil.ml._zygote`), so both start a service the same way:

1. open the registry of the environment's settings and resolve the reference;
2. read the version's bytes and check their hash on a thread (both release the GIL) while
   this thread imports the file that defines the model (its libraries: most of a cold start);
3. load the model object, build the FastAPI app, run uvicorn until SIGTERM/SIGINT.

:func:`preload` imports everything steps 1 and 3 use, for a zygote to hold before it forks.
"""

# No ``from __future__ import annotations``: FastAPI reads the preload route's annotation.

import os
import threading
from collections.abc import Callable
from typing import Any

from airfoil.core.errors import ConfigError
from airfoil.store.deployments import DEFAULT_PREDICT_TIMEOUT_S

__all__ = ["ModelFetch", "preload", "serve_model"]


class ModelFetch:
    """``registry.read_bytes(version)`` on a thread of its own."""

    def __init__(self, registry: Any, version: Any) -> None:
        self._data: bytes | None = None
        self._error: BaseException | None = None
        self._thread = threading.Thread(
            target=self._run, args=(registry, version), name="airfoil-model-fetch", daemon=True
        )
        self._thread.start()

    def _run(self, registry: Any, version: Any) -> None:
        try:
            self._data = registry.read_bytes(version)
        except BaseException as exc:  # re-raised by result() on the caller's thread
            self._error = exc

    def result(self) -> bytes:
        self._thread.join()
        if self._error is not None:
            raise self._error
        assert self._data is not None
        return self._data


def serve_model(
    ref: str,
    *,
    file: str | None = None,
    host: str = "127.0.0.1",
    port: int = 8080,
    poll_s: float = 0.5,
    sample_rate: float = 0.01,
    announce: Callable[[str], None] | None = None,
    allowed_hosts: tuple[str, ...] = (),
    predict_timeout_s: float = DEFAULT_PREDICT_TIMEOUT_S,
) -> None:
    """Serve the model ``ref`` names until the process is told to stop.

    Args:
        ref: ``NAME@ALIAS`` (followed), ``NAME:VERSION`` or ``NAME``.
        file: the file defining the model (default: the one recorded at registration).
        host: the interface to listen on.
        port: the port.
        poll_s: seconds between alias checks.
        sample_rate: share of requests logged.
        announce: called with a line saying what is served where, before uvicorn starts.
        allowed_hosts: the names it answers under while it has no key, besides localhost
            and addresses, and those of ``AIRFOIL_ALLOWED_HOSTS`` (comma-separated). Its key
            is ``AIRFOIL_MODEL_KEY``'s, taken out of the environment before the model's file
            is imported (:mod:`airfoil.ml._service_guard`).
        predict_timeout_s: how long a prediction may take before its request is a 504.

    Raises:
        ConfigError, NotFoundError: a bad reference or port, no such model, no model file.
    """
    import uvicorn

    from airfoil.ml._registry import local_registry, parse_ref
    from airfoil.ml._serve import ModelService, create_service, find_model
    from airfoil.ml._service_guard import key_from_environment

    if isinstance(port, bool) or not isinstance(port, int) or not 1 <= port <= 65535:
        # uvicorn could not bind it and the process stayed up serving nothing (a hang)
        raise ConfigError(f"invalid port {port!r}: give a TCP port from 1 to 65535")
    key, scope = key_from_environment()
    listed = os.environ.get("AIRFOIL_ALLOWED_HOSTS", "")
    allowed = (*(h.strip() for h in listed.split(",") if h.strip()), *allowed_hosts)
    reg = local_registry()
    parsed = parse_ref(ref)
    version = reg.resolve(parsed)
    fetched = ModelFetch(reg, version)
    model = find_model(file or version.metadata.get("model_file", ""), parsed.name)
    loaded = reg.load(model, version, data=fetched.result())
    service = ModelService(model, reg, parsed, poll_s=poll_s, loaded=loaded)
    app = create_service(
        service,
        sample_rate=sample_rate,
        key=key,
        key_scope=scope,
        allowed_hosts=allowed,
        predict_timeout_s=predict_timeout_s,
    )
    if announce is not None:
        gpus = os.environ.get("CUDA_VISIBLE_DEVICES")  # a supervisor's grant, if any
        where = f"http://{host}:{port}" + (f", GPUs {gpus}" if gpus else "")
        where += ", key required" if key else ""
        announce(f"serving {version.ref} ({ref}) on {where}")
    uvicorn.run(app, host=host, port=port, log_level="warning", access_log=False)


def preload() -> None:
    """Import what :func:`serve_model` uses besides the model's own file and the
    registry's database modules, and warm the schema builders it calls, without starting a
    thread, opening a connection or creating an event loop (a zygote forks after this)."""
    import numpy  # noqa: F401  (the request rows become an array)
    import prometheus_client  # noqa: F401
    import pydantic
    import uvicorn
    from fastapi import FastAPI
    from fastapi.concurrency import run_in_threadpool  # noqa: F401
    from fastapi.responses import JSONResponse, Response  # noqa: F401

    import airfoil.settings
    import airfoil.store.blob  # noqa: F401
    from airfoil.ml._serve import _features_schema

    body = _features_schema("preload", ["x"])
    out = pydantic.create_model("preload_response", predictions=(list[int], ...))
    app = FastAPI()

    @app.post("/predict", response_model=out)
    async def predict(request: body) -> Any:  # type: ignore[valid-type]
        return None

    app.openapi()
    config = uvicorn.Config(app, log_level="warning", access_log=False)
    config.load()  # the protocol, lifespan and middleware classes uvicorn picks
    config.get_loop_factory()
