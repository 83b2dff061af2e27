"""The prediction service (`airfoil serve`, a real process) with scikit-learn logistic
regression on the 64 digits features, one row per request, keep-alive clients.

S1  /predict latency, one client: p50 and p99 of 2,000 requests (budget p50 <= 3 ms,
    p99 <= 15 ms), beside the predictor called in-process on the same row (the baseline:
    what the service adds).
S2  throughput with 8 concurrent keep-alive clients (threads of this process) for 5 s
    (budget >= 600 requests/s).
S3  start to ready (process start until /health answers) for a 50 MB model (budget <= 1.5 s):
    the median of 5 cold process starts, beside the first start of the ~5 KB model.
S3z the same for a replica forked by a deployment's zygote (a restart, a crash recovery or a
    scale-up under `airfoil deploy`): spawn request until /health answers, median of 5, with
    the zygote's own start (once per deployment) apart (--start only).
Z1  the zygote's library check before each fork (stat of every library module file it
    imported: the digits model's file and the service's libraries), in a fresh process,
    median of 21 (--start only).
S4  alias move to the new version serving (promote until /health reports it; budget <= 5 s).
S5  opening the registry's artifact store in a fresh process (CPU seconds), beside B5: the
    same with Alembic's upgrade run as every open did before (--start only).
R1  (--ray) /predict on a Ray Serve deployment (one replica, through Serve's proxy on
    127.0.0.1), p50 and p99 of 1,000 requests, beside S1 on the plain `airfoil serve` process,
    alternated over 3 rounds (medians of the rounds' p50s and p99s); R2 the same pair's
    throughput with 8 keep-alive clients for 3 s, and with 2 Serve replicas; R3 deploy to
    ready (a fresh local Ray started first, Serve's start included and apart); R4 alias move
    to every replica serving the new version.

Baselines in the same invocation (the machine is shared, so compare ratios): B1 a minimal
hand-written FastAPI app in its own uvicorn process calling the same estimator on a numpy row
(what any FastAPI service pays); B3 the time to import sklearn, pandas, fastapi and uvicorn in
a fresh process (the floor of any such service's start; median of 5, each run right after
an S3 start, so both see the same load).

    python benchmarks/bench_serve.py            # S1-S4
    python benchmarks/bench_serve.py --start    # S3/B3, S3z and S5/B5 only
    python benchmarks/bench_serve.py --start --baseline DIR  # and S3 of the code in DIR/src
                                                # (e.g. `git archive main src`), alternated
    python benchmarks/bench_serve.py --ray      # R1-R4 beside S1/S2 (needs airfoil[ray])
"""

from __future__ import annotations

import os
import resource
import signal
import socket
import statistics
import subprocess
import sys
import textwrap
import threading
import time
from typing import Any

import httpx
from _util import temp_dir

MODEL_FILE = textwrap.dedent(
    """
    import numpy as np
    import pandas as pd
    from sklearn.datasets import load_digits
    from sklearn.linear_model import LogisticRegression
    from airfoil.ml import Dataset, Model

    class Padded(LogisticRegression):
        def __init__(self, C=1.0, max_iter=200, pad_mb=0):
            super().__init__(C=C, max_iter=max_iter)
            self.pad_mb = pad_mb

        def fit(self, X, y):
            super().fit(X, y)
            self.pad_ = np.ones(self.pad_mb * 2**20 // 8)
            return self

    dataset = Dataset("digits", targets=["target"])
    model = Model("digits", init=Padded, dataset=dataset)
    big = Model("bigdigits", init=Padded, dataset=dataset)

    @dataset.reader
    def reader(frac: float = 1.0) -> pd.DataFrame:
        return load_digits(as_frame=True).frame.sample(frac=frac, random_state=0)

    for m in (model, big):
        m.trainer(lambda est, X, y: est.fit(X.to_numpy() / 16.0, y))

        @m.predictor
        def predictor(est: Padded, features: np.ndarray) -> list[int]:
            return [int(p) for p in est.predict(features / 16.0)]
    """
)


BARE_APP = textwrap.dedent(
    """
    import pickle, sys
    import numpy as np
    import uvicorn
    from fastapi import FastAPI, Request
    est = pickle.load(open(sys.argv[1], "rb"))
    cols = None
    app = FastAPI()

    @app.get("/health")
    def health():
        return {"ok": True}

    @app.post("/predict")
    async def predict(request: Request):
        body = await request.json()
        rows = body["features"]
        x = np.array([list(r.values()) for r in rows], dtype=float) / 16.0
        return {"predictions": [int(p) for p in est.predict(x)]}

    uvicorn.run(app, port=int(sys.argv[2]), log_level="warning", access_log=False)
    """
)


def _latency(url: str, body: dict[str, object], n: int = 2000) -> tuple[float, float]:
    with httpx.Client(base_url=url) as client:
        for _ in range(200):
            client.post("/predict", json=body)
        lat = []
        for _ in range(n):
            t = time.perf_counter()
            r = client.post("/predict", json=body)
            lat.append(time.perf_counter() - t)
            assert r.status_code == 200, r.text
    lat.sort()
    return lat[len(lat) // 2] * 1e3, lat[int(len(lat) * 0.99)] * 1e3


def _throughput(url: str, body: dict[str, object], clients: int = 8, seconds: float = 5.0) -> float:
    done = [0] * clients
    stop = threading.Event()

    def loop(i: int) -> None:
        with httpx.Client(base_url=url) as c:
            while not stop.is_set():
                if c.post("/predict", json=body).status_code == 200:
                    done[i] += 1

    threads = [threading.Thread(target=loop, args=(i,)) for i in range(clients)]
    for t in threads:
        t.start()
    time.sleep(1.0)
    before, t0 = sum(done), time.perf_counter()
    time.sleep(seconds)
    rate = (sum(done) - before) / (time.perf_counter() - t0)
    stop.set()
    for t in threads:
        t.join()
    return rate


def _wait(url: str, proc: subprocess.Popen[bytes]) -> None:
    while True:
        try:
            if httpx.get(url + "/health").status_code == 200:
                return
        except httpx.TransportError:
            time.sleep(0.01)
        if proc.poll() is not None:
            raise RuntimeError(f"the service exited with {proc.returncode}")


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _serve(ref: str, env: dict[str, str]) -> tuple[subprocess.Popen[bytes], str, float]:
    """A cold ``airfoil serve`` process: (process, URL, seconds from start to ready)."""
    port = _port()
    start = time.perf_counter()
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "airfoil.cli",
            "serve",
            ref,
            "--port",
            str(port),
            "--poll",
            "0.1",
            "--sample-rate",
            "0",
        ],
        env=env,
        stdout=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    while True:
        try:
            if httpx.get(url + "/health").status_code == 200:
                return proc, url, time.perf_counter() - start
        except httpx.TransportError:
            time.sleep(0.01)
        if proc.poll() is not None:
            raise RuntimeError(f"airfoil serve {ref} exited with {proc.returncode}")


def main() -> None:
    home = temp_dir(prefix="bench-serve-")
    with open(os.path.join(home, "digits_app.py"), "w") as f:
        f.write(MODEL_FILE)
    env = {**os.environ, "AIRFOIL_HOME": home, "PYTHONPATH": os.pathsep.join([home, *sys.path])}
    os.environ["AIRFOIL_HOME"] = home
    sys.path.insert(0, home)
    from digits_app import big, model  # type: ignore[import-not-found]
    from sklearn.datasets import load_digits

    from airfoil.ml import local_registry

    v1 = model.train(hyperparameters={"C": 0.1})
    v2 = model.train(hyperparameters={"C": 1.0})
    large = big.train(hyperparameters={"pad_mb": 50})
    reg = local_registry()
    reg.promote(v1.ref, "production")
    reg.promote(large.ref, "production")
    size_mb = len(reg.read_bytes(reg.resolve(large.ref))) / 2**20
    frame = load_digits(as_frame=True).frame.drop(columns=["target"])
    row = frame.iloc[[7]]
    body = {"features": row.to_dict("records")}

    inproc = []
    array = row.to_numpy(dtype=float)
    for _ in range(500):
        t = time.perf_counter()
        model.predict_with(v1.obj, array)
        inproc.append(time.perf_counter() - t)

    import pickle

    est_path = os.path.join(home, "est.pkl")
    with open(est_path, "wb") as f:
        pickle.dump(v1.obj, f)
    with open(os.path.join(home, "bare.py"), "w") as f:
        f.write(BARE_APP)
    bare_port = _port()
    bare = subprocess.Popen(
        [sys.executable, os.path.join(home, "bare.py"), est_path, str(bare_port)], env=env
    )
    bare_url = f"http://127.0.0.1:{bare_port}"
    try:
        _wait(bare_url, bare)
        b50, b99 = _latency(bare_url, body)
        brate = _throughput(bare_url, body)
    finally:
        bare.terminate()
        bare.wait()
    proc, url, ready_small = _serve("digits@production", env)
    try:
        p50, p99 = _latency(url, body)
        base = statistics.median(inproc) * 1e3
        print(
            f"S1 /predict p50 {p50:.2f} ms  p99 {p99:.2f} ms; B1 bare FastAPI p50 {b50:.2f} ms "
            f"p99 {b99:.2f} ms (ratio p50 {p50 / b50:.2f}x); predictor in-process {base:.2f} ms"
        )
        rate = _throughput(url, body)
        print(
            f"S2 {rate:.0f} requests/s with 8 keep-alive clients; B1 bare FastAPI "
            f"{brate:.0f}/s (ratio {rate / brate:.2f}x)"
        )

        t = time.perf_counter()
        reg.promote(v2.ref, "production")
        while httpx.get(url + "/health").json()["version"] != v2.artifact.version:
            time.sleep(0.01)
        print(
            f"S4 alias move to serving the new version: {time.perf_counter() - t:.2f} s "
            "(poll 0.1 s)"
        )
    finally:
        proc.terminate()
        proc.wait()
    _start(env, size_mb, ready_small)


def _floor(env: dict[str, str]) -> tuple[float, float]:
    """B3: (wall seconds, CPU seconds) of importing the libraries in a fresh process."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t = time.perf_counter()
    subprocess.run(
        [sys.executable, "-c", "import sklearn.linear_model, pandas, fastapi, uvicorn"],
        check=True,
        env=env,
    )
    took = time.perf_counter() - t
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return took, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def _cpu_s(pid: int) -> float:
    """CPU seconds (user + system) a running process has used (Linux /proc)."""
    with open(f"/proc/{pid}/stat", "rb") as f:
        fields = f.read().rsplit(b")", 1)[-1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _start(
    env: dict[str, str],
    size_mb: float,
    ready_small: float | None,
    runs: int = 5,
    baseline: str | None = None,
) -> None:
    # Wall time is what a user waits; CPU time is reported beside it because on a shared
    # machine the wall time mostly measures the other tenants.
    ready, floors, cpu, floor_cpu = [], [], [], []
    old, old_cpu = [], []
    old_env = None
    if baseline is not None:
        old_path = os.path.join(os.path.abspath(baseline), "src")
        old_env = {**env, "PYTHONPATH": os.pathsep.join([old_path, env["PYTHONPATH"]])}
    for _ in range(runs):
        big_proc, _, took = _serve("bigdigits@production", env)
        cpu.append(_cpu_s(big_proc.pid))
        big_proc.terminate()
        big_proc.wait()
        ready.append(took)
        if old_env is not None:
            old_proc, _, took = _serve("bigdigits@production", old_env)
            old_cpu.append(_cpu_s(old_proc.pid))
            old_proc.terminate()
            old_proc.wait()
            old.append(took)
        wall, used = _floor(env)
        floors.append(wall)
        floor_cpu.append(used)
    big, floor = statistics.median(ready), statistics.median(floors)
    big_cpu, base_cpu = statistics.median(cpu), statistics.median(floor_cpu)
    small = f", {ready_small:.2f} s for the small one" if ready_small is not None else ""
    print(
        f"S3 start to ready: median {big:.2f} s of {runs} cold starts for a {size_mb:.0f} MB "
        f"model (all: {', '.join(f'{x:.2f}' for x in ready)}){small}, {big_cpu:.2f} CPU s; "
        f"B3 importing the libraries alone median {floor:.2f} s, {base_cpu:.2f} CPU s "
        f"(ratio wall {big / floor:.2f}x, CPU {big_cpu / base_cpu:.2f}x); load average "
        f"{os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs"
    )
    if old:
        was, was_cpu = statistics.median(old), statistics.median(old_cpu)
        print(
            f"S3 baseline ({baseline}), alternated with the runs above: median {was:.2f} s "
            f"(all: {', '.join(f'{x:.2f}' for x in old)}), {was_cpu:.2f} CPU s (ratio new/old "
            f"wall {big / was:.2f}x, CPU {big_cpu / was_cpu:.2f}x)"
        )


def _forked_start(env: dict[str, str], size_mb: float, runs: int = 5) -> None:
    """S3z: replicas forked by a deployment's zygote, from the spawn request to /health."""
    from airfoil.server._zygotes import Zygote

    log = os.path.join(env["AIRFOIL_HOME"], "zygote.log")
    t = time.perf_counter()
    zygote = Zygote(sys.executable, "bigdigits@production", "", env, log)
    if not zygote.wait_ready(300):
        raise RuntimeError(f"the zygote failed: {zygote.error} (see {log})")
    warm = time.perf_counter() - t
    ready, cpu = [], []
    try:
        for _ in range(runs):
            port = _port()
            url = f"http://127.0.0.1:{port}"
            t = time.perf_counter()
            request = {"ref": "bigdigits@production", "port": port, "poll_s": 0.1}
            pid = zygote.spawn({**request, "sample_rate": 0.0, "env": env, "log": log})
            while True:
                try:
                    if httpx.get(url + "/health").status_code == 200:
                        break
                except httpx.TransportError:
                    time.sleep(0.005)
                if zygote.exit_code(pid)[0]:
                    raise RuntimeError(f"the forked replica exited (see {log})")
            ready.append(time.perf_counter() - t)
            cpu.append(_cpu_s(pid))
            os.kill(pid, signal.SIGTERM)
            while not zygote.exit_code(pid)[0]:
                time.sleep(0.01)
    finally:
        zygote.close()
    print(
        f"S3z zygote-forked replica start to ready: median {statistics.median(ready):.2f} s of "
        f"{runs} for a {size_mb:.0f} MB model (all: {', '.join(f'{x:.2f}' for x in ready)}), "
        f"{statistics.median(cpu):.2f} CPU s in the replica; the zygote's own start (once per "
        f"deployment) {warm:.2f} s; load average {os.getloadavg()[0]:.1f}"
    )


OPEN_REGISTRY = """
import sys
from airfoil.store.sql import SqlArtifactStore, migrate
SqlArtifactStore(sys.argv[1]).close()
if sys.argv[2] == "alembic":
    migrate(sys.argv[1])
"""


def _open_registry(url: str, env: dict[str, str], mode: str) -> float:
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    subprocess.run([sys.executable, "-c", OPEN_REGISTRY, url, mode], check=True, env=env)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def _registry_open(home: str, env: dict[str, str], runs: int = 7) -> None:
    """S5: CPU seconds of a fresh process that opens the registry's artifact store (a
    database at head), beside B5: the same plus Alembic's upgrade, as every open did before
    the at-head check. Alternated, medians."""
    url = "sqlite:///" + os.path.join(home, "airfoil.db")
    fast, slow = [], []
    for _ in range(runs):
        fast.append(_open_registry(url, env, "fast"))
        slow.append(_open_registry(url, env, "alembic"))
    a, b = statistics.median(fast), statistics.median(slow)
    print(
        f"S5 opening the registry in a fresh process: {a:.2f} CPU s; B5 with Alembic's upgrade "
        f"as before: {b:.2f} CPU s (saves {b - a:.2f} CPU s per service start); load average "
        f"{os.getloadavg()[0]:.1f}"
    )


def start_only(baseline: str | None = None) -> None:
    """S3 and B3, S3z, S5 and B5 alone (trains the 50 MB model once)."""
    home = temp_dir(prefix="bench-serve-")
    with open(os.path.join(home, "digits_app.py"), "w") as f:
        f.write(MODEL_FILE)
    env = {**os.environ, "AIRFOIL_HOME": home, "PYTHONPATH": os.pathsep.join([home, *sys.path])}
    os.environ["AIRFOIL_HOME"] = home
    sys.path.insert(0, home)
    from digits_app import big  # type: ignore[import-not-found]

    from airfoil.ml import local_registry

    large = big.train(hyperparameters={"pad_mb": 50})
    reg = local_registry()
    reg.promote(large.ref, "production")
    size_mb = len(reg.read_bytes(reg.resolve(large.ref))) / 2**20
    _start(env, size_mb, None, baseline=baseline)
    _forked_start(env, size_mb)
    _library_check(env)
    _registry_open(home, env)


LIBRARY_CHECK = textwrap.dedent(
    """
    import statistics, time
    from airfoil.ml._service_process import preload
    from airfoil.ml._zygote import LibraryStamps
    preload()
    import digits_app
    stamps = LibraryStamps()
    t = time.perf_counter()
    stamps.record()
    recorded = time.perf_counter() - t
    took = []
    for _ in range(21):
        t = time.perf_counter()
        stamps.check()
        took.append(time.perf_counter() - t)
    print(len(stamps), recorded, statistics.median(took))
    """
)


def _library_check(env: dict[str, str]) -> None:
    """Z1: the zygote's check that no library it imported changed on disk."""
    out = subprocess.run(
        [sys.executable, "-c", LIBRARY_CHECK], env=env, check=True, capture_output=True, text=True
    ).stdout.split()
    files, recorded, check = int(out[-3]), float(out[-2]), float(out[-1])
    print(
        f"Z1 zygote library check before a fork: median {check * 1000:.1f} ms for {files} "
        f"library files (stamping them once: {recorded * 1000:.0f} ms); load average "
        f"{os.getloadavg()[0]:.1f}"
    )


def _ray_ready(serve: Any, replicas: int, version: int) -> None:
    while True:
        app = serve.state("default", "digits")
        ready = [
            r
            for r in (app.replicas if app else [])
            if r.state == "RUNNING" and (r.report or {}).get("version") == version
        ]
        if len(ready) == replicas and app is not None and app.target_replicas == replicas:
            return
        time.sleep(0.05)


def ray_only(rounds: int = 3) -> None:
    """R1-R4: the same service as a Ray Serve deployment beside the plain process."""
    from airfoil.ml._ray_serve import RayServe

    home = temp_dir(prefix="bench-serve-")
    with open(os.path.join(home, "digits_app.py"), "w") as f:
        f.write(MODEL_FILE)
    env = {**os.environ, "AIRFOIL_HOME": home, "PYTHONPATH": os.pathsep.join([home, *sys.path])}
    os.environ["AIRFOIL_HOME"] = home
    os.environ["PYTHONPATH"] = env["PYTHONPATH"]  # the local Ray's workers import the model
    sys.path.insert(0, home)
    from digits_app import model  # type: ignore[import-not-found]
    from sklearn.datasets import load_digits

    from airfoil.ml import local_registry

    v1 = model.train(hyperparameters={"C": 0.1})
    v2 = model.train(hyperparameters={"C": 1.0})
    reg = local_registry()
    reg.promote(v1.ref, "production")
    row = load_digits(as_frame=True).frame.drop(columns=["target"]).iloc[[7]]
    body = {"features": row.to_dict("records")}
    settings = {"home": home, "database_url": None, "blob_url": os.path.join(home, "blobs")}
    serve = RayServe(num_cpus=os.cpu_count() or 2, replica_cpus=0.5)
    proc, url, _ = _serve("digits@production", env)
    try:
        t = time.perf_counter()
        serve.connect()
        started = time.perf_counter() - t
        t = time.perf_counter()
        serve.apply(
            "default", "digits", "digits@production", replicas=1, file="", settings=settings
        )
        _ray_ready(serve, 1, v1.artifact.version)
        print(
            f"R3 deploy to ready on Ray Serve: {time.perf_counter() - t:.2f} s (one replica), "
            f"after {started:.2f} s to start a local Ray and Serve"
        )
        ray_url = f"http://127.0.0.1:{serve.port}/default/digits"
        plain: list[tuple[float, float]] = []
        on_ray: list[tuple[float, float]] = []
        for _ in range(rounds):
            plain.append(_latency(url, body, 1000))
            on_ray.append(_latency(ray_url, body, 1000))
        p50, p99 = (statistics.median(x[i] for x in plain) for i in (0, 1))
        r50, r99 = (statistics.median(x[i] for x in on_ray) for i in (0, 1))
        print(
            f"R1 /predict on Ray Serve p50 {r50:.2f} ms p99 {r99:.2f} ms; S1 airfoil serve p50 "
            f"{p50:.2f} ms p99 {p99:.2f} ms (ratio p50 {r50 / p50:.2f}x, p99 {r99 / p99:.2f}x; "
            f"medians of {rounds} alternated rounds of 1,000)"
        )
        rate = _throughput(url, body, seconds=3.0)
        ray_rate = _throughput(ray_url, body, seconds=3.0)
        serve.apply(
            "default", "digits", "digits@production", replicas=2, file="", settings=settings
        )
        _ray_ready(serve, 2, v1.artifact.version)
        ray_rate2 = _throughput(ray_url, body, seconds=3.0)
        print(
            f"R2 {ray_rate:.0f} requests/s on Ray Serve (1 replica), {ray_rate2:.0f}/s "
            f"(2 replicas); S2 airfoil serve {rate:.0f}/s (ratio {ray_rate / rate:.2f}x); "
            "8 keep-alive clients, 3 s"
        )
        t = time.perf_counter()
        reg.promote(v2.ref, "production")
        in_row = 0  # through the proxy: 20 answers in a row from the new version
        with httpx.Client(base_url=ray_url) as client:
            while in_row < 20:
                got = client.get("/health").json()["version"]
                in_row = in_row + 1 if got == v2.artifact.version else 0
        print(
            f"R4 alias move to the new version answering (20 in a row through the proxy, 2 "
            f"replicas): {time.perf_counter() - t:.2f} s (poll 0.5 s)"
        )
    finally:
        proc.terminate()
        proc.wait()
        serve.close()
    print(f"load average {os.getloadavg()[0]:.1f} {os.getloadavg()[1]:.1f} (1 and 5 min)")


if __name__ == "__main__":
    if "--ray" in sys.argv[1:]:
        ray_only()
    elif "--start" in sys.argv[1:]:
        args = sys.argv[1:]
        start_only(args[args.index("--baseline") + 1] if "--baseline" in args else None)
    else:
        main()
