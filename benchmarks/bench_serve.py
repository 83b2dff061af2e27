"""The prediction service (`airfoil serve`, a real process) with scikit-learn logistic
regression on the 64 digits features, one row per request, keep-alive clients.

S1  /predict latency, one client: p50 and p99 of 2,000 requests (budget p50 <= 3 ms,
    p99 <= 15 ms), beside the predictor called in-process on the same row (the baseline:
    what the service adds).
S2  throughput with 8 concurrent keep-alive clients (threads of this process) for 5 s
    (budget >= 600 requests/s).
S3  start to ready (process start until /health answers) for a 50 MB model (budget <= 1.5 s):
    the median of 5 cold process starts, beside the first start of the ~5 KB model.
S4  alias move to the new version serving (promote until /health reports it; budget <= 5 s).
S5  opening the registry's artifact store in a fresh process (CPU seconds), beside B5: the
    same with Alembic's upgrade run as every open did before (--start only).

Baselines in the same invocation (the machine is shared, so compare ratios): B1 a minimal
hand-written FastAPI app in its own uvicorn process calling the same estimator on a numpy row
(what any FastAPI service pays); B3 the time to import sklearn, pandas, fastapi and uvicorn in
a fresh process (the floor of any such service's start; median of 5, each run right after
an S3 start, so both see the same load).

    python benchmarks/bench_serve.py            # S1-S4
    python benchmarks/bench_serve.py --start    # S3/B3 and S5/B5 only
"""

from __future__ import annotations

import os
import resource
import socket
import statistics
import subprocess
import sys
import tempfile
import textwrap
import threading
import time

import httpx

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
    home = tempfile.mkdtemp(prefix="bench-serve-")
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


def _start(env: dict[str, str], size_mb: float, ready_small: float | None, runs: int = 5) -> None:
    # Wall time is what a user waits; CPU time is reported beside it because on a shared
    # machine the wall time mostly measures the other tenants.
    ready, floors, cpu, floor_cpu = [], [], [], []
    for _ in range(runs):
        big_proc, _, took = _serve("bigdigits@production", env)
        cpu.append(_cpu_s(big_proc.pid))
        big_proc.terminate()
        big_proc.wait()
        ready.append(took)
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


def start_only() -> None:
    """S3 and B3 alone (trains the 50 MB model once)."""
    home = tempfile.mkdtemp(prefix="bench-serve-")
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
    _start(env, size_mb, None)
    _registry_open(home, env)


if __name__ == "__main__":
    start_only() if "--start" in sys.argv[1:] else main()
