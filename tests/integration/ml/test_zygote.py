"""Replicas forked by a deployment's zygote (real processes, real HTTP): a crash restart
and a scale-up are forked from the zygote and serve; a model file, or a module of the
user's it imports, edited after the zygote imported them is imported again (no replica
serves stale code); a model file that starts a
thread when imported makes the zygote refuse, and replicas then start cold; a zygote that
dies leaves its replicas serving and restarts go cold."""

from __future__ import annotations

import os
import signal
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from _deployments import alive, load_model_file, until
from _replica_home import ReplicaHome

from airfoil.store.deployments import Deployment, Replica

pytestmark = [pytest.mark.integration, pytest.mark.slow]

MODEL = """
import numpy as np
import pandas as pd
from sklearn.linear_model import LogisticRegression
from airfoil.ml import Dataset, Model
{extra}
dataset = Dataset("{name}", targets=["label"])
model = Model("{name}", init=LogisticRegression, dataset=dataset)

@dataset.reader
def reader(rows: int = 80) -> pd.DataFrame:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(rows, 2))
    return pd.DataFrame({{"a": x[:, 0], "b": x[:, 1], "label": (x[:, 0] > 0).astype(int)}})

@model.trainer
def trainer(est: LogisticRegression, X: pd.DataFrame, y: pd.Series) -> LogisticRegression:
    return est.fit(X.to_numpy(), y)

@model.predictor
def predictor(est: LogisticRegression, features: np.ndarray) -> list[int]:
    return [ANSWER] * len(features)

ANSWER = {answer}
"""

ROW = {"features": [{"a": 1.0, "b": 0.0}]}


def _ppid(pid: int) -> int:
    with open(f"/proc/{pid}/stat", "rb") as f:
        return int(f.read().rsplit(b")", 1)[-1].split()[1])


class _World:
    """A model ``name`` (its file beside the test, ``extra`` lines at its top) trained in a
    server's home, and that home's supervisor (not started)."""

    def __init__(self, tmp_path: Path, name: str, extra: str = "", answer: int = 1) -> None:
        self.name = name
        self.file = tmp_path / f"{name}_model.py"
        if str(tmp_path) not in sys.path:  # the user's helper modules beside the model file
            sys.path.insert(0, str(tmp_path))
        module = load_model_file(self.file, MODEL.format(name=name, extra=extra, answer=answer))
        self.replicas = ReplicaHome(tmp_path / "home")
        self.home, self.store, self.pids = (
            self.replicas.root,
            self.replicas.store,
            self.replicas.pids,
        )
        self.ref = module.model.train(registry=self.replicas.registry).ref
        self.supervisor = self.replicas.supervisor(interval_s=0.2)

    def deploy(self, replicas: int) -> None:
        self.replicas.deploy(self.ref, replicas=replicas)

    def ready(self, replicas: int, restarts: int = 0) -> Deployment:
        return self.replicas.ready(self.name, replicas, restarts, timeout=120)

    def close(self) -> None:
        self.replicas.close()


@pytest.fixture
def worlds() -> Iterator[list[_World]]:
    made: list[_World] = []
    yield made
    for world in made:
        world.close()


def _predict(replica: Replica) -> list[int]:
    r = httpx.post(f"http://127.0.0.1:{replica.port}/predict", json=ROW, timeout=10)
    assert r.status_code == 200, r.text
    predictions: list[int] = r.json()["predictions"]
    return predictions


def test_crash_restart_and_scale_up_are_forked_from_the_zygote(
    tmp_path: Path, worlds: list[_World]
) -> None:
    w = _World(tmp_path, "zyga")
    worlds.append(w)
    w.deploy(1)
    w.supervisor.start()
    first = w.ready(1).members[0]
    assert _ppid(first.pid or 0) == os.getpid()  # the first one started cold
    zygote = until("the zygote", lambda: w.supervisor.zygote("default", w.name), timeout=120)
    assert zygote.wait_ready(120), zygote.error

    os.kill(first.pid or 0, signal.SIGKILL)  # a crash
    again = w.ready(1, restarts=1).members[0]
    assert again.pid != first.pid and again.last_exit == -signal.SIGKILL
    assert _ppid(again.pid or 0) == zygote.pid  # forked, not started cold
    assert again.port == first.port and _predict(again) == [1]

    w.deploy(3)  # scale up: the two new replicas are forked too
    w.supervisor.reconcile()
    grown = w.ready(3, restarts=1)
    assert all(_ppid(r.pid or 0) == zygote.pid for r in grown.members)
    assert len({r.port for r in grown.members}) == 3
    assert all(_predict(r) == [1] for r in grown.members)

    # The zygote's child exits are reported with their codes, like a Popen's.
    victim = grown.members[2]
    os.kill(victim.pid or 0, signal.SIGTERM)
    restarted = w.ready(3, restarts=2).members[2]
    assert restarted.last_exit in (0, -signal.SIGTERM) and restarted.pid != victim.pid

    w.supervisor.stop_deployment("default", w.name)
    assert not any(alive(p) for p in w.pids)
    assert w.supervisor.zygote("default", w.name) is None
    until("the zygote gone", lambda: not alive(zygote.pid), 10)


def test_an_exit_its_zygote_reports_late_is_recorded_with_its_code(
    tmp_path: Path, worlds: list[_World]
) -> None:
    """The zygote reaps a forked replica and reports its exit code on its next wake-up:
    later than the supervisor's next look on a loaded machine, or while it forks or
    re-executes. Stopped here (SIGSTOP) while the replica is killed and two passes run: the
    supervisor waited a fixed 0.2 s for the report, then recorded the exit without its code."""
    w = _World(tmp_path, "zygo")
    worlds.append(w)
    w.deploy(1)
    w.supervisor.start()
    first = w.ready(1).members[0]
    zygote = until("the zygote", lambda: w.supervisor.zygote("default", w.name), timeout=120)
    assert zygote.wait_ready(120), zygote.error
    os.kill(first.pid or 0, signal.SIGKILL)
    forked = w.ready(1, restarts=1).members[0]
    assert _ppid(forked.pid or 0) == zygote.pid

    os.kill(zygote.pid, signal.SIGSTOP)
    try:
        os.kill(forked.pid or 0, signal.SIGKILL)
        until(
            "the replica exited (a zombie its stopped zygote cannot reap)",
            lambda: not alive(forked.pid or 0),
        )
        w.supervisor.reconcile()
        w.supervisor.reconcile()
    finally:
        os.kill(zygote.pid, signal.SIGCONT)
    again = w.ready(1, restarts=2).members[0]
    assert again.last_exit == -signal.SIGKILL and again.pid != forked.pid


def test_user_code_edited_after_the_zygote_imported_it_is_imported_again(
    tmp_path: Path, worlds: list[_World]
) -> None:
    helper = tmp_path / "zygb_helper.py"  # a module of the user's the model file imports
    helper.write_text("OFFSET = 0\n")
    w = _World(tmp_path, "zygb", extra="from zygb_helper import OFFSET", answer=1)
    worlds.append(w)
    w.file.write_text(w.file.read_text().replace("[ANSWER]", "[ANSWER + OFFSET]"))
    w.deploy(1)
    w.supervisor.start()
    first = w.ready(1).members[0]
    assert _predict(first) == [1]
    zygote = until("the zygote", lambda: w.supervisor.zygote("default", w.name), timeout=120)
    assert zygote.wait_ready(120), zygote.error

    helper.write_text("OFFSET = 100\n")  # the user edits the helper module
    os.kill(first.pid or 0, signal.SIGKILL)
    again = w.ready(1, restarts=1).members[0]
    assert _ppid(again.pid or 0) == zygote.pid
    assert _predict(again) == [101]  # the code on disk now, not the zygote's first import

    edited = MODEL.format(name=w.name, extra="from zygb_helper import OFFSET", answer=22)
    w.file.write_text(edited.replace("[ANSWER]", "[ANSWER + OFFSET]"))  # and the model file
    os.kill(again.pid or 0, signal.SIGKILL)
    third = w.ready(1, restarts=2).members[0]
    assert _ppid(third.pid or 0) == zygote.pid and _predict(third) == [122]


def test_a_model_file_that_starts_a_thread_gets_cold_replicas(
    tmp_path: Path, worlds: list[_World]
) -> None:
    starts_a_thread = textwrap.dedent(
        """
        import threading, time
        threading.Thread(target=time.sleep, args=(3600,), name="user-poller", daemon=True).start()
        """
    )
    w = _World(tmp_path, "zygc", extra=starts_a_thread)
    worlds.append(w)
    w.deploy(1)
    w.supervisor.start()
    first = w.ready(1).members[0]
    zygote = until("the zygote", lambda: w.supervisor.zygote("default", w.name), timeout=120)
    assert not zygote.wait_ready(120)
    assert "user-poller" in (zygote.error or "") and "threads are running" in (zygote.error or "")
    until(
        "the refusing zygote dropped",
        lambda: w.supervisor.zygote("default", w.name) is None,
        timeout=120,
    )

    os.kill(first.pid or 0, signal.SIGKILL)
    again = w.ready(1, restarts=1).members[0]
    assert _ppid(again.pid or 0) == os.getpid()  # started cold by the supervisor
    assert _predict(again) == [1]


def test_replicas_outlive_their_zygote_and_restart_cold_after_it_died(
    tmp_path: Path, worlds: list[_World]
) -> None:
    w = _World(tmp_path, "zygd")
    worlds.append(w)
    w.deploy(2)
    w.supervisor.start()
    w.ready(2)
    zygote = until("the zygote", lambda: w.supervisor.zygote("default", w.name), timeout=120)
    assert zygote.wait_ready(120), zygote.error
    os.kill(w.ready(2).members[0].pid or 0, signal.SIGKILL)
    forked = w.ready(2, restarts=1).members[0]
    assert _ppid(forked.pid or 0) == zygote.pid

    os.kill(zygote.pid, signal.SIGKILL)  # the zygote dies: its child keeps serving
    until(
        "the zygote seen gone", lambda: w.supervisor.zygote("default", w.name) is None, timeout=120
    )
    time.sleep(1.0)
    kept = w.ready(2, restarts=1).members[0]
    assert kept.pid == forked.pid and _predict(kept) == [1]

    os.kill(forked.pid or 0, signal.SIGKILL)  # its crash is seen (by pid) and restarted cold
    again = w.ready(2, restarts=2).members[0]
    assert again.pid != forked.pid and _ppid(again.pid or 0) == os.getpid()
    assert _predict(again) == [1]


def _venv_with_a_library(tmp_path: Path, name: str) -> tuple[Path, Path]:
    """A virtual environment of its own (the test's libraries reached through a ``.pth``)
    whose site-packages holds ``name`` 1.0, a library of one module: (python, its file)."""
    import site
    import subprocess
    import sysconfig

    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    python = venv / "bin" / "python"
    purelib = subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    sites = [*site.getsitepackages(), sysconfig.get_paths()["purelib"]]
    (Path(purelib) / "the_tests_libraries.pth").write_text(
        "".join(f"import site; site.addsitedir({d!r})\n" for d in dict.fromkeys(sites))
    )
    library = Path(purelib) / f"{name}.py"
    library.write_text("OFFSET = 0\n")
    (Path(purelib) / f"{name}-1.0.dist-info").mkdir()
    (Path(purelib) / f"{name}-1.0.dist-info" / "METADATA").write_text(f"Name: {name}\n")
    return python, library


def test_a_library_upgraded_on_disk_makes_the_zygote_re_execute_before_it_forks(
    tmp_path: Path, worlds: list[_World], monkeypatch: pytest.MonkeyPatch
) -> None:
    python, library = _venv_with_a_library(tmp_path, "zyge_lib")
    monkeypatch.syspath_prepend(str(library.parent))  # to train here
    w = _World(tmp_path, "zyge", extra="from zyge_lib import OFFSET", answer=1)
    worlds.append(w)
    w.file.write_text(w.file.read_text().replace("[ANSWER]", "[ANSWER + OFFSET]"))
    w.supervisor.python = str(python)  # replicas and zygote run in the environment
    w.deploy(2)
    w.supervisor.start()
    cold = w.ready(2).members
    assert all(_predict(r) == [1] for r in cold)
    zygote = until("the zygote", lambda: w.supervisor.zygote("default", w.name), timeout=120)
    assert zygote.wait_ready(120), zygote.error
    for restarts, r in enumerate(cold, start=1):  # both forked, the library as imported
        os.kill(r.pid or 0, signal.SIGKILL)
        w.ready(2, restarts=restarts)
    forked = w.ready(2, restarts=2).members
    assert all(_ppid(r.pid or 0) == zygote.pid and _predict(r) == [1] for r in forked)

    # ``pip install -U zyge_lib``: new files (new inodes) and a new dist-info.
    library.unlink()
    library.write_text("OFFSET = 100\n")
    dist = library.parent / "zyge_lib-1.0.dist-info"
    dist.rename(library.parent / "zyge_lib-2.0.dist-info")
    os.kill(forked[0].pid or 0, signal.SIGKILL)
    again = w.ready(2, restarts=3).members[0]
    # Forked by the same process (re-executed in place: the pid is kept), from the library
    # on disk now, not the one the zygote imported first.
    assert _ppid(again.pid or 0) == zygote.pid and zygote.ready
    assert _predict(again) == [101]
    log = (w.home / "deployments" / f"default.{w.name}.zygote.log").read_text()
    assert "re-executing before the next fork: " in log and "zyge_lib.py changed" in log

    # A replica forked before the re-exec is still its child: its exit is reported with
    # its code, and its restart is forked from the new image.
    os.kill(forked[1].pid or 0, signal.SIGKILL)
    other = w.ready(2, restarts=4).members[1]
    assert other.last_exit == -signal.SIGKILL and other.pid != forked[1].pid
    assert _ppid(other.pid or 0) == zygote.pid and _predict(other) == [101]
    log = (w.home / "deployments" / f"default.{w.name}.zygote.log").read_text()
    assert log.count("re-executing before the next fork") == 1


def test_a_late_request_is_not_forked_and_a_forked_child_does_not_keep_the_zygote_alive(
    tmp_path: Path, worlds: list[_World]
) -> None:
    from airfoil.server._zygotes import Zygote, ZygoteError

    w = _World(tmp_path, "zygf")
    worlds.append(w)
    env = {**os.environ, "AIRFOIL_HOME": str(w.home), "AIRFOIL_PROJECT": "default"}
    env["AIRFOIL_BLOB_URL"] = str(w.home / "blobs")
    zygote = Zygote(sys.executable, w.ref, str(w.file), env, str(tmp_path / "zygote.log"))
    child = 0
    try:
        assert zygote.wait_ready(120), zygote.error
        # A request that reaches it after the supervisor stopped waiting (it then starts the
        # replica cold) is answered with an error, not forked: no second process on the port.
        late = {"ref": w.ref, "port": 1, "env": env, "log": str(tmp_path / "late.log")}
        try:
            forked = zygote.spawn({**late, "deadline": time.time() - 1.0}, timeout=30)
        except ZygoteError as exc:
            assert "past its deadline: not forked" in str(exc)
        else:
            os.kill(forked, signal.SIGKILL)
            pytest.fail(f"it forked {forked} for a request past its deadline")
        assert not (tmp_path / "late.log").exists() and zygote.ready
        child = os.fork()  # e.g. a multiprocessing worker of the server's, forked without exec
        if child == 0:
            time.sleep(60)
            os._exit(0)
        started = time.monotonic()
        zygote.close(timeout=20)  # its stdin closed here: it exits by itself...
        assert zygote._proc.returncode == 0  # ...not killed after the timeout
        assert time.monotonic() - started < 20
    finally:
        if child:
            os.kill(child, signal.SIGKILL)
            os.waitpid(child, 0)
        if zygote._proc.poll() is None:
            zygote._proc.kill()
            zygote._proc.wait()
