"""(adv27) A Ray Serve replica's ``__del__`` deletes the key it publishes its state under in
the cluster's key-value store. In a child forked from the replica's process it must do
nothing: the key, the publishing thread and the Ray connection are the parent's. No Serve
runs here: the replica is built by its own ``__init__`` around stand-ins for the registry,
the model service and Ray's contexts, and the key-value store is a dict."""

from __future__ import annotations

import os
from importlib.util import find_spec
from types import SimpleNamespace
from typing import Any

import pytest

pytestmark = [
    pytest.mark.unit,
    pytest.mark.skipif(find_spec("ray") is None, reason="Ray: pip install 'airfoil[ray]'"),
]


class _Service:
    swaps = 0

    def __init__(self, *_args: Any, **_kwargs: Any) -> None:
        pass

    def drift_report(self) -> dict[str, Any]:
        return {"version": "1"}


class _Context:
    def get_assigned_resources(self) -> dict[str, float]:
        return {"CPU": 1.0}

    def get_accelerator_ids(self) -> dict[str, list[str]]:
        return {}


@pytest.fixture
def replica_class(monkeypatch: pytest.MonkeyPatch) -> tuple[type, dict[bytes, bytes]]:
    """The replica class as written (what Serve's ingress wrapper calls ``__del__`` of) and
    the key-value store it publishes to."""
    from airfoil.ml import _ray_serve

    store: dict[bytes, bytes] = {}

    def put(key: bytes, value: bytes, overwrite: bool, namespace: str) -> None:
        store[key] = value

    def delete(key: bytes, namespace: str) -> None:
        store.pop(key, None)

    registry = SimpleNamespace(resolve=lambda ref: SimpleNamespace(metadata={}))
    monkeypatch.setattr(_ray_serve, "local_registry", lambda settings: registry)
    monkeypatch.setattr(_ray_serve, "find_model", lambda file, name: object())
    monkeypatch.setattr(_ray_serve, "ModelService", _Service)
    monkeypatch.setattr(_ray_serve, "create_service", lambda *a, **k: object())
    replica_id = SimpleNamespace(replica_id=SimpleNamespace(unique_id="r1"))
    monkeypatch.setattr(_ray_serve.serve, "get_replica_context", lambda: replica_id)
    monkeypatch.setattr(_ray_serve.ray, "get_runtime_context", _Context)
    monkeypatch.setattr(_ray_serve.internal_kv, "_internal_kv_put", put)
    monkeypatch.setattr(_ray_serve.internal_kv, "_internal_kv_del", delete)
    # ModelReplica is Serve's ingress wrapper around the class as written: the wrapper's
    # __init__ and __del__ are coroutines Serve awaits, and they call the written ones.
    written = next(c for c in _ray_serve.ModelReplica.__mro__[1:] if "_publish" in vars(c))
    return written, store


def test_a_replicas_del_in_a_forked_child_leaves_the_parents_key(
    replica_class: tuple[type, dict[bytes, bytes]], tmp_path: Any
) -> None:
    """The replica's process forks; the child runs the replica's ``__del__`` (what Serve's
    shutdown runs) and reports what the key-value store then holds. On integ the child
    deleted the key (on a cluster: the parent's published state gone, by a Ray call made on
    the parent's sockets). The parent's replica keeps publishing and deletes its key itself."""
    cls, store = replica_class
    replica = cls("app", "model@prod", "", {"home": str(tmp_path)})
    key = b"airfoil-serve/app/r1"
    assert key in store
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child
        code = 1
        try:
            os.close(read)
            replica.__del__()
            os.write(write, b"kept" if key in store else b"gone")
            code = 0
        finally:
            os._exit(code)
    os.close(write)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    with os.fdopen(read, "rb") as pipe:
        assert pipe.read() == b"kept"
    assert key in store
    replica.__del__()  # in its own process: the key is deleted, the thread stopped
    assert key not in store
    replica._thread.join(30)
    assert not replica._thread.is_alive()
