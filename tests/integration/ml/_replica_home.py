"""A server's home for the tests that start real model replicas (supervisor, zygote, replica
limits, service trust): an SQLite artifact store and a blob folder in project ``default``,
the supervisors made on it and every replica pid seen ready, all closed and killed by
:meth:`ReplicaHome.close` (the ``replica_home`` fixture calls it), so no test leaves a
replica behind when it fails half-way. Also the command line of ``airfoil serve`` on the
tiny model (``_tiny.py``), for the tests that start it alone."""

from __future__ import annotations

import os
import signal
import sys
import time
from pathlib import Path
from typing import Any

from _deployments import alive, ready_in_store, until

from airfoil.ml import ModelRegistry
from airfoil.server._deployments import deploy
from airfoil.server._supervisor import ServiceEnv, Supervisor
from airfoil.store.blob import open_blob_store
from airfoil.store.deployments import Deployment
from airfoil.store.sql import SqlArtifactStore
from airfoil.wire._deployments import DeploymentIn

__all__ = ["ReplicaHome", "serve_tiny_argv", "serve_tiny_environ"]

TINY = Path(__file__).with_name("_tiny.py")


def serve_tiny_argv(*options: str) -> list[str]:
    """``airfoil serve tiny:1 --file _tiny.py`` with ``options`` (train ``tiny:1`` first)."""
    return [sys.executable, "-m", "airfoil.cli", "serve", "tiny:1", "--file", str(TINY), *options]


def serve_tiny_environ() -> dict[str, str]:
    """This process's environment, its import path included (the model file imports the
    test helpers' neighbours), for the ``airfoil serve`` process."""
    return {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}


class ReplicaHome:
    """The server's home folder ``root``: its store, registry, supervisors and replicas."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.blobs = root / "blobs"
        self.logs = root / "deployments"
        self.url = f"sqlite:///{root / 'airfoil.db'}"
        self.store = SqlArtifactStore(self.url)
        self._stores = [self.store]
        self.registry = ModelRegistry(self.store, open_blob_store(str(self.blobs)), "default")
        self.pids: set[int] = set()
        self._supervisors: list[Supervisor] = []

    def another_store(self) -> SqlArtifactStore:
        """A second server's store on this home's database (closed by :meth:`close`)."""
        store = SqlArtifactStore(self.url)
        self._stores.append(store)
        return store

    def env(self, model_key: str | None = None) -> ServiceEnv:
        """The replicas' environment: this home, its blobs, logs under ``deployments``."""
        root, blobs, logs = str(self.root), str(self.blobs), str(self.logs)
        return ServiceEnv(root, None, blobs, logs, model_key=model_key)

    def supervisor(
        self,
        env: ServiceEnv | None = None,
        store: SqlArtifactStore | None = None,
        **options: Any,
    ) -> Supervisor:
        """A supervisor on ``store`` (this home's by default), closed by :meth:`close`; not
        started."""
        on = store if store is not None else self.store
        supervisor = Supervisor(on, env if env is not None else self.env(), **options)
        self._supervisors.append(supervisor)
        return supervisor

    def deploy(self, ref: str, **options: Any) -> None:
        """Deploys ``ref`` in project ``default`` (``options``: ``DeploymentIn``'s fields)."""
        deploy(self.store, "default", DeploymentIn(ref=ref, **options), time.time())

    def ready(
        self, name: str, replicas: int = 1, restarts: int | None = 0, timeout: float = 90
    ) -> Deployment:
        """Deployment ``name`` once its ``replicas`` replicas all serve, restarted
        ``restarts`` times in all (any number if None); their pids are killed at the end."""

        def check() -> Deployment | None:
            d = ready_in_store(self.store, "default", name, replicas, restarts)
            if d is not None:
                self.pids.update(r.pid for r in d.members if r.pid)
            return d

        found: Deployment = until(f"{replicas} ready replicas of {name}", check, timeout)
        return found

    def close(self) -> None:
        """Closes the supervisors, kills the replicas still alive, closes the stores."""
        for supervisor in self._supervisors:
            supervisor.close()
        for pid in self.pids:
            if alive(pid):
                os.kill(pid, signal.SIGKILL)
        for store in self._stores:
            store.close()
