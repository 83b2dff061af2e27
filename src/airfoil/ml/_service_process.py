"""What an ``airfoil serve`` process does, from a model reference to a serving uvicorn.

Shared by the command (a cold process) and the zygote's forked replicas
(:mod:`airfoil.ml._zygote`), so both start a service the same way:

1. open the registry of the environment's settings and resolve the reference;
2. read the version's bytes and check their hash on a thread (both release the GIL) while
   this thread imports the file that defines the model (its libraries: most of a cold start);
3. load the model object, build the FastAPI app, run uvicorn until SIGTERM/SIGINT.

A cold process (``prefetch=True``, the command) overlaps steps 1 and 2's read across two
CPUs: it forks a child (:class:`Prefetch`) that opens a registry of its own, resolves the
reference, reads and checks the bytes and hands them over (the bytes in an anonymous memory
file, the version over a pipe), while the process itself imports the service's libraries
(FastAPI, uvicorn, pydantic, numpy, Prometheus); the process opens the registry's database
only in the alias watcher, after the service answers. The child is forked while the process
runs one thread (else the registry's part runs here as above), and ends with ``os._exit``.

:func:`preload` imports everything steps 1 and 3 use, for a zygote to hold before it forks.
"""

# No ``from __future__ import annotations``: FastAPI reads the preload route's annotation.

import os
import pickle
import struct
import threading
import traceback
from collections.abc import Callable
from typing import Any

__all__ = ["ModelFetch", "Prefetch", "preload", "serve_model"]


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


class Prefetch:
    """The registry's part of a cold start in a forked child: ``local_registry()``, resolve
    ``ref``, read the version's bytes and check their hash; :meth:`result` is ``(version,
    bytes)`` or raises what the child raised (the same type and message). The bytes come in
    an anonymous memory file (one read), the rest over a pipe."""

    def __init__(self, ref: str) -> None:
        self._memory = os.memfd_create("airfoil-model-bytes", os.MFD_CLOEXEC)
        read, write = os.pipe()
        self._pid = os.fork()
        if self._pid == 0:  # the child: never returns
            os.close(read)
            _prefetch_child(ref, write, self._memory)
        os.close(write)
        self._read = read

    def result(self) -> tuple[Any, bytes]:
        try:
            with os.fdopen(self._read, "rb") as pipe:
                got = pipe.read()  # until the child closes it
            try:
                size, meta = struct.unpack("<Q", got[:8])[0], pickle.loads(got[8:])
            except Exception as exc:
                raise RuntimeError(
                    f"the process reading the model from the registry ended without an "
                    f"answer ({exc!r}): see its output above"
                ) from None
            if isinstance(meta, BaseException):
                raise meta
            data = os.pread(self._memory, size, 0) if size else b""
            if len(data) != size:
                raise RuntimeError(f"read {len(data)} of the model's {size} bytes")
            return meta, data
        finally:
            os.close(self._memory)
            try:
                os.waitpid(self._pid, 0)
            except ChildProcessError:
                pass


def _prefetch_child(ref: str, answer: int, memory: int) -> None:
    code = 0
    try:
        data = b""
        try:
            from airfoil.ml._registry import local_registry, parse_ref

            reg = local_registry(fresh=True)
            try:
                version = reg.resolve(parse_ref(ref))
                data = reg.read_bytes(version)
            finally:
                reg.artifacts.close()  # a server database sees a clean goodbye
            meta = pickle.dumps(version)
        except Exception as exc:
            try:
                meta = pickle.dumps(exc)
                pickle.loads(meta)
            except Exception:
                meta = pickle.dumps(RuntimeError(f"{type(exc).__name__}: {exc}"))
        view = memoryview(data)
        while view:
            view = view[os.write(memory, view) :]
        with os.fdopen(answer, "wb") as pipe:
            pipe.write(struct.pack("<Q", len(data)) + meta)
    except BaseException:
        traceback.print_exc()
        code = 1
    finally:
        os._exit(code)


class _DeferredRegistry:
    """The environment's registry, opened when first used (by the alias watcher, after the
    service answers): a cold start does not wait for its database modules."""

    def __getattr__(self, name: str) -> Any:
        from airfoil.ml._registry import local_registry

        return getattr(local_registry(), name)


def serve_model(
    ref: str,
    *,
    file: str | None = None,
    host: str = "127.0.0.1",
    port: int = 8080,
    poll_s: float = 0.5,
    sample_rate: float = 0.01,
    announce: Callable[[str], None] | None = None,
    prefetch: bool = False,
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
        prefetch: do the registry's part in a forked child while this process imports the
            service's libraries (a cold process: it must run one thread).

    Raises:
        ConfigError, NotFoundError: a bad reference, no such model, no model file.
    """
    forkable = hasattr(os, "memfd_create") and threading.active_count() == 1
    early = Prefetch(ref) if prefetch and forkable else None
    import uvicorn

    from airfoil.ml._registry import load_version, local_registry, parse_ref
    from airfoil.ml._serve import ModelService, create_service, find_model

    parsed = parse_ref(ref)
    reg: Any
    if early is not None:
        import fastapi  # noqa: F401  (the service's libraries, while the child works)
        import numpy  # noqa: F401
        import prometheus_client  # noqa: F401

        version, data = early.result()
        reg = _DeferredRegistry()
    else:
        reg = local_registry()
        version = reg.resolve(parsed)
        fetched = ModelFetch(reg, version)
    model = find_model(file or version.metadata.get("model_file", ""), parsed.name)
    if early is None:
        data = fetched.result()
    loaded = load_version(model, version, data)
    service = ModelService(model, reg, parsed, poll_s=poll_s, loaded=loaded)
    app = create_service(service, sample_rate=sample_rate)
    if announce is not None:
        announce(f"serving {version.ref} ({ref}) on http://{host}:{port}")
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
