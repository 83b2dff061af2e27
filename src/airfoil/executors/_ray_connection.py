"""This process's connection to Ray, for the ray executor (:mod:`airfoil.executors.ray`).

Ray allows one connection per process: the first ray executor starts a local Ray (or joins
the cluster at its address), later ones share it, and the last one that started it shuts it
down. Ray is imported here only when an executor first needs it.
"""

from __future__ import annotations

import logging
import os
import threading
from typing import Any

from airfoil.core.errors import ConfigError
from airfoil.executors.base import detect_gpus

__all__ = ["CONNECTION", "INSTALL_HINT", "import_ray"]

INSTALL_HINT = "pip install 'airfoil[ray]'"
_PROBE_S = 3.0  # how long a Ray address may take to accept a connection
_OBJECT_STORE_BYTES = 128 * 2**20  # a local Ray's object store (results travel as blobs)


def import_ray() -> Any:
    """The ``ray`` module.

    Raises:
        ConfigError: Ray is not installed, naming the extra that installs it.
    """
    try:
        import ray
    except ImportError as exc:
        raise ConfigError(
            f"the ray executor needs Ray, which is not installed ({exc}): {INSTALL_HINT}"
        ) from None
    return ray


class Connection:
    """This process's use of Ray: started (or joined) by the first executor, shut down when
    the last one that started it closes. Ray allows one connection per process."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.users = 0
        self.owned = False
        self.address: str | None = None
        self._keeper_stop: threading.Event | None = None

    def acquire(self, address: str | None, num_cpus: int | None) -> Any:
        ray = import_ray()
        with self.lock:
            if not ray.is_initialized():
                self.address = address
                self.owned = True
                kwargs: dict[str, Any] = {
                    "include_dashboard": False,
                    "log_to_driver": False,
                    "logging_level": logging.WARNING,
                    "configure_logging": True,
                    "namespace": "airfoil",
                }
                if address:
                    _check_reachable(address)
                    kwargs["address"] = address
                else:
                    # "local": a Ray of our own, never the cluster a `ray start` on this
                    # machine named in /tmp/ray/ray_current_cluster or RAY_ADDRESS (Ray's
                    # choice for no address), which refuses num_cpus and is not ours to stop.
                    kwargs["address"] = "local"
                    kwargs["num_cpus"] = num_cpus or os.cpu_count() or 1
                    kwargs["num_gpus"] = len(detect_gpus())
                    kwargs["object_store_memory"] = _OBJECT_STORE_BYTES
                _cluster_messages_to_stderr()
                try:
                    self._init(ray, kwargs)
                except (ConnectionError, ValueError, RuntimeError) as exc:
                    self.owned = False
                    where = f"the Ray cluster at {address!r}" if address else "a local Ray"
                    raise ConfigError(
                        f"could not start or join {where}: {exc}. Check --ray-address "
                        "(AIRFOIL_RAY_ADDRESS): 'host:port' of a head started with `ray start "
                        "--head`, 'ray://host:10001', or 'auto'; leave it out for a local Ray"
                    ) from exc
            elif address and self.address and address != self.address:
                raise ConfigError(
                    f"this process is already connected to the Ray cluster at {self.address!r}; "
                    f"it cannot also use {address!r} (one Ray cluster per process)"
                )
            self.users += 1
        return ray

    def _init(self, ray: Any, kwargs: dict[str, Any]) -> None:
        """``ray.init`` from a thread that lives as long as this connection.

        A local Ray's head processes (GCS, raylet) are started with a parent-death signal,
        which Linux sends when the *thread* that started them ends, not the process: a Ray
        started from a short-lived thread (a server's request or supervisor thread) was
        killed the moment that thread returned. The main thread lives as long as the process;
        any other caller hands the start to a keeper thread that waits until the release.
        """
        if threading.current_thread() is threading.main_thread():
            ray.init(**kwargs)
            return
        started = threading.Event()
        stop = threading.Event()
        failed: list[BaseException] = []

        def keep() -> None:
            try:
                ray.init(**kwargs)
            except BaseException as exc:  # handed to the caller below
                failed.append(exc)
                started.set()
                return
            started.set()
            stop.wait()

        threading.Thread(target=keep, name="airfoil-ray-keeper", daemon=True).start()
        started.wait()
        if failed:
            raise failed[0]
        self._keeper_stop = stop

    def release(self) -> None:
        with self.lock:
            self.users = max(0, self.users - 1)
            if self.users or not self.owned:
                return
            self.owned = False
            self.address = None
            keeper, self._keeper_stop = self._keeper_stop, None
        try:
            import ray

            ray.shutdown()
        except Exception:  # best effort: the process may be exiting
            return
        finally:
            if keeper is not None:
                keeper.set()


CONNECTION = Connection()


def _cluster_messages_to_stderr() -> None:
    """Send the cluster's messages to the driver (a node died...) to stderr.

    Ray prints them to ``sys.stdout``, which is the user's: ``airfoil run --json`` must print
    one JSON object there and nothing else. (Ray has no setting for it; this wraps the
    function its listener thread calls, once per process.)
    """
    try:
        from ray._private import worker as ray_worker
    except ImportError:
        return
    original = getattr(ray_worker, "print_to_stdstream", None)
    if original is None or getattr(original, "_airfoil", False):
        return

    def to_stderr(data: dict[str, Any], ignore_prefix: bool) -> None:
        original({**data, "is_err": True}, ignore_prefix)

    to_stderr._airfoil = True  # type: ignore[attr-defined]
    ray_worker.print_to_stdstream = to_stderr


def _check_reachable(address: str) -> None:
    """Fail fast when nothing listens at ``address`` (Ray would retry for minutes).

    Raises:
        ConfigError: the address is malformed or nothing answers there.
    """
    import socket

    if address == "auto":
        return
    hostport = address.removeprefix("ray://").rstrip("/")
    host, _, port = hostport.rpartition(":")
    if not host or not port.isdigit():
        raise ConfigError(
            f"invalid Ray address {address!r}: give host:port of the head (e.g. 10.0.0.5:6379), "
            "ray://host:10001, or auto"
        )
    try:
        socket.create_connection((host, int(port)), timeout=_PROBE_S).close()
    except OSError as exc:
        raise ConfigError(
            f"nothing answers at the Ray address {address!r} ({exc}): start a head there with "
            "`ray start --head`, or leave --ray-address (AIRFOIL_RAY_ADDRESS) out for a local Ray"
        ) from None
