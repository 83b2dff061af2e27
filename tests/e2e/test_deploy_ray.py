"""``airfoil deploy`` against a real ``airfoil server start --executor ray``: with no
``--on``, the deployment is a Ray Serve application on the local Ray the server starts. The
API and ``airfoil deploy list`` show it like a supervised one (replicas, status, version,
restarts, the proxy's URL); it answers over HTTP and its drift is pooled; the same name on
processes is a typed error; ``stop`` deletes it; the server stopped with Ctrl-C exits 0 and
its Ray's processes end (SIGTERM is not used: a server that joined Ray in a thread is killed
by it without a graceful shutdown, as on main)."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest

pytestmark = [pytest.mark.e2e, pytest.mark.slow, pytest.mark.ray]

from _deployments import alive, until  # noqa: E402
from _serve import free_port  # noqa: E402
from test_deploy import ROW, trained  # noqa: E402, F401


@pytest.fixture(autouse=True, scope="module")
def _needs_ray_serve() -> None:
    """Skip without Ray Serve; asked when the tests run, not while collecting (importing
    it takes seconds)."""
    pytest.importorskip("ray.serve", reason="Ray Serve: pip install 'airfoil[ray]'")


def _comm(pid: int) -> str:
    try:
        with open(f"/proc/{pid}/comm") as f:
            return f.read().strip()
    except OSError:
        return ""


class RayServer:
    """``airfoil server start --executor ray`` on a free port, stopped with SIGTERM."""

    def __init__(self, home: Path, work: Path, env: dict[str, str]) -> None:
        self.url = f"http://127.0.0.1:{free_port()}"
        # Every process of the server's Ray inherits the mark: those left are found by it.
        self.mark = f"{os.getpid()}-{time.monotonic_ns()}"
        # The server's local Ray keeps its session (sockets, logs) in a folder of its own,
        # not in the /tmp/ray every other local Ray of the machine shares; short, as Ray's
        # socket paths must be. Its logs are shown if the server never gets ready.
        self.ray_temp = tempfile.mkdtemp(prefix="afsrv-")
        env = {**env, "AIRFOIL_TEST_RAY_MARK": self.mark, "RAY_TMPDIR": self.ray_temp}
        self.env, self.work = env, work
        self.log = open(work / "ray-server.log", "wb")  # noqa: SIM115
        command = [sys.executable, "-m", "airfoil.cli", "server", "start", "--executor", "ray"]
        self.proc = subprocess.Popen(
            [*command, "--port", self.url.rsplit(":", 1)[1]],
            env=env,
            stdout=self.log,
            stderr=self.log,
            cwd=work,
        )
        try:
            until("the server", self._ready, timeout=90)
        except AssertionError as exc:
            logs = self.ray_logs()
            self.proc.kill()  # never leave a server that did not start, nor its Ray
            self.proc.wait(10)
            self.log.close()
            for pid in self.marked():
                os.kill(pid, signal.SIGKILL)
            shutil.rmtree(self.ray_temp, ignore_errors=True)
            raise AssertionError(f"{exc}\n{logs}") from None

    @contextmanager
    def ray_logs_on_failure(self) -> Iterator[None]:
        """A failed assertion within shows the server's Ray's logs too."""
        try:
            yield
        except AssertionError as exc:
            raise AssertionError(f"{exc}\n{self.ray_logs()}") from exc

    def ray_logs(self) -> str:
        """The last lines of the server's Ray's own logs (GCS, raylet), to tell where its
        start stopped."""
        parts = []
        for path in sorted(Path(self.ray_temp).glob("ray/session_2*/logs/*")):
            if path.name.startswith(("gcs_server", "raylet")) and path.is_file():
                lines = path.read_text(errors="replace").splitlines()[-15:]
                parts.append(f"--- {path.name}\n" + "\n".join(lines))
        return "\n".join(parts) or f"(no Ray session logs under {self.ray_temp})"

    def _ready(self) -> bool:
        assert self.proc.poll() is None, (self.work / "ray-server.log").read_text()[-3000:]
        try:
            return httpx.get(self.url + "/readyz", timeout=2).status_code == 200
        except httpx.HTTPError:
            return False

    def cli(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "airfoil.cli", *args, "--server", self.url],
            env=self.env,
            cwd=self.work,
            capture_output=True,
            text=True,
            timeout=120,
        )

    def logs(self) -> str:
        text = (self.work / "ray-server.log").read_text()
        lines = [x for x in text.splitlines() if x.strip() and " @ " not in x]
        return "\n".join(lines[-60:])

    def deployment(self) -> dict[str, Any]:
        got = httpx.get(f"{self.url}/api/v1/projects/default/deployments/blobs", timeout=10)
        return dict(got.json())

    def marked(self) -> list[int]:
        """The processes (the server's Ray's) that carry this server's mark."""
        found = []
        needle = f"AIRFOIL_TEST_RAY_MARK={self.mark}".encode()
        for pid in (int(p) for p in os.listdir("/proc") if p.isdigit()):
            try:
                with open(f"/proc/{pid}/environ", "rb") as f:
                    if needle in f.read().split(b"\0"):
                        found.append(pid)
            except OSError:
                continue
        return [p for p in found if alive(p)]

    def stop(self) -> int:
        """Ctrl-C (SIGINT); the exit code (a kill after 90 s is -9)."""
        self.proc.send_signal(signal.SIGINT)
        try:
            code = self.proc.wait(90)  # Serve and the local Ray are shut down first
        except subprocess.TimeoutExpired:
            self.proc.kill()
            code = self.proc.wait(5)
        self.log.close()
        return code


@pytest.fixture
def ray_server(trained: tuple[Path, Path, dict[str, str]]) -> Iterator[RayServer]:  # noqa: F811
    home, work, env = trained
    srv = RayServer(home, work, env)
    try:
        yield srv
    finally:
        code = srv.stop()
        deadline = time.monotonic() + 30
        while srv.marked() and time.monotonic() < deadline:
            time.sleep(0.5)
        left = {pid: _comm(pid) for pid in srv.marked()}
        for pid in left:  # never leave them running, whatever the assertions say
            os.kill(pid, signal.SIGKILL)
        shutil.rmtree(srv.ray_temp, ignore_errors=True)
        assert code == 0, f"exit {code}:\n{srv.logs()}"
        # Ray's two helper agents may outlive a local Ray's shutdown (docs/ray.md, Known
        # limits): they are killed above; nothing else of the server's Ray may be left.
        assert set(left.values()) <= {"ray::DashboardA", "ray::RuntimeEnv"}, left


def test_a_server_on_ray_deploys_on_ray_serve(ray_server: RayServer) -> None:
    with ray_server.ray_logs_on_failure():
        _deploys_on_ray_serve(ray_server)


def _deploys_on_ray_serve(srv: RayServer) -> None:
    # A replica no node of the cluster could hold is refused when deployed (a 422 naming
    # the option to lower), and nothing is recorded.
    huge = srv.cli("deploy", "blobs@production", "--gpus", "64", "--memory", "1Gi")
    said = huge.stderr + huge.stdout
    assert huge.returncode != 0 and "gpu=64" in said and "--gpus" in said, said
    none = httpx.get(f"{srv.url}/api/v1/projects/default/deployments/blobs", timeout=10)
    assert none.status_code == 404
    out = srv.cli("deploy", "blobs@production", "--replicas", "2", "--json")
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout)["on"] == "ray"

    def ready() -> Any:
        d = srv.deployment()
        members = d.get("members", [])
        ok = len(members) == 2 and all(m["status"] == "ready" for m in members)
        return d if ok and all(m["version"] == 1 for m in members) else None

    d = until("two Ray Serve replicas ready", ready, timeout=240)
    # The server's local Ray (started for the deployment) keeps its session in the server's
    # own folder, where a failure's Ray logs are read from.
    assert list(Path(srv.ray_temp).glob("ray/session_2*/logs/raylet.out")), srv.ray_logs()
    assert d["message"] == "" and d["on"] == "ray"
    urls = {m["url"] for m in d["members"]}
    assert len(urls) == 1 and next(iter(urls)).endswith("/default/blobs")
    url = next(iter(urls))
    pids = [m["pid"] for m in d["members"]]
    assert len(set(pids)) == 2 and all(alive(p) for p in pids)
    for _ in range(20):
        r = httpx.post(url + "/predict", json=ROW, timeout=10)
        assert r.status_code == 200 and r.json()["version"] == 1, r.text
    bad = httpx.post(url + "/predict", json={"features": [{"a": 1.0}]}, timeout=10)
    assert bad.status_code == 422 and bad.json()["detail"][0]["loc"][-1] == "b"

    listed = srv.cli("deploy", "list")
    assert listed.returncode == 0, listed.stderr
    assert "ray" in listed.stdout and "2/2 ready" in listed.stdout

    def drift_rows() -> Any:
        got = httpx.get(
            f"{srv.url}/api/v1/projects/default/deployments/blobs/drift", timeout=10
        ).json()
        return got if got["rows"] == 20 else None

    pooled = until("the replicas' drift published", drift_rows, timeout=30)
    assert pooled["replicas"] == 2 and pooled["features"]["a"]["serving"]["mean"] == 6.0

    other = srv.cli("deploy", "blobs@production", "--on", "process")
    assert other.returncode != 0
    assert "deployed on ray, not process: stop it first" in other.stderr + other.stdout
    bad_on = srv.cli("deploy", "blobs@production", "--on", "kubernetes")
    assert bad_on.returncode != 0 and "use process or ray" in bad_on.stderr + bad_on.stdout

    stopped = srv.cli("deploy", "stop", "blobs")
    assert stopped.returncode == 0, stopped.stderr
    gone = httpx.get(f"{srv.url}/api/v1/projects/default/deployments/blobs", timeout=10)
    assert gone.status_code == 404
    until("the replicas' processes to end", lambda: not any(alive(p) for p in pids))
    assert httpx.post(url + "/predict", json=ROW, timeout=10).status_code == 404
