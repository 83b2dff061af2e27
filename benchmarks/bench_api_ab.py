"""The API process's CPU per request of two trees, their servers side by side, alternated.

``bench_api_cpu.py`` run once per tree compares figures taken minutes apart, and on a shared
host the load between them moves a request's CPU by 10-30%. This starts one server of each
tree (``airfoil server start`` on PostgreSQL, each on a schema of its own, each importing
Airfoil from its tree's ``src``) and measures each kind of request on both within seconds,
batch after batch, the order swapped each round: the API process's CPU (the sum of its
threads' ``/proc/<pid>/task/<tid>/schedstat``, in ns) per request, and per kind the median of
B/A over the rounds' pairs.

Kinds as ``bench_api_cpu.py``'s: ``healthz`` (the control: no route of the API), ``detail``
(a kept one), ``list``, ``events-none``, ``launch`` (of a 101-node fan-out) and
``detail-built`` (the first detail of an ended execution: the waiting client's last ``get``).

    PYTHONPATH=TREE_A/src python benchmarks/bench_api_ab.py TREE_A TREE_B [--rounds 6]
"""

from __future__ import annotations

import argparse
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import sqlalchemy as sa

sys.path.insert(0, str(Path(__file__).parent))
from bench_server import FLOW, PG_URL, _start

SIMPLE = ("healthz", "detail", "list", "events-none")


def cpu_ns(pid: int) -> int:
    """CPU time of a process's live threads, ns (a thread that ended is not counted)."""
    total = 0
    for tid in os.listdir(f"/proc/{pid}/task"):
        try:
            with open(f"/proc/{pid}/task/{tid}/schedstat") as f:
                total += int(f.read().split()[0])
        except OSError:
            pass
    return total


class _Server:
    def __init__(self, tree: str, tmp: Path, admin: sa.Engine) -> None:
        from airfoil.cli._load import load_entity
        from airfoil.client import Client

        self.schema = f"airfoil_bench_{uuid.uuid4().hex[:8]}"
        with admin.begin() as conn:
            conn.execute(sa.text(f'CREATE SCHEMA "{self.schema}"'))
        db = f"{PG_URL}{'&' if '?' in PG_URL else '?'}options=-csearch_path%3D{self.schema}"
        (tmp / "user").mkdir(parents=True)
        (tmp / "user" / "flow.py").write_text(FLOW.replace("WIDTH", "100"))
        entities = [load_entity(str(tmp / "user" / "flow.py"), n) for n in ("one", "fan", "big")]
        before = os.environ.get("PYTHONPATH")
        os.environ["PYTHONPATH"] = str(Path(tree) / "src")  # what the server imports
        try:
            self.proc, self.url = _start(tmp, db, 4, 2, None, None)
        finally:
            os.environ["PYTHONPATH"] = before or ""
        self.client = Client(self.url, project="bench")
        self.http = httpx.Client(timeout=60)
        self.client.register(entities)
        self.ids = [self.client.launch("flow.fan", {"x": i}).id for i in range(3)]
        self.launched: list[str] = []
        self.turn = 0
        self.wait_all(self.ids)

    def wait_all(self, ids: list[str]) -> None:
        for i in ids:
            self.client.wait(i, poll_s=0.1, timeout=600)

    def sender(self, kind: str) -> Callable[[], Any]:
        base = f"{self.url}/api/v1/projects/bench/executions"

        def get(url: str, **params: Any) -> Callable[[], Any]:
            def send() -> None:
                r = self.http.get(url, params=params)
                assert r.status_code == 200, r.text

            return send

        if kind == "launch":

            def launch() -> None:
                self.launched.append(self.client.launch("flow.fan", {"x": 1}).id)

            return launch
        if kind == "detail-built":

            def built() -> None:  # another ended execution each time, more than are kept
                self.turn = (self.turn + 1) % len(self.launched)
                get(f"{base}/{self.launched[self.turn]}")()

            return built
        return {
            "healthz": get(f"{self.url}/healthz"),
            "detail": get(f"{base}/{self.ids[0]}"),
            "list": get(base),
            "events-none": get(f"{base}/{self.ids[0]}/events", after=2**63 - 1),
        }[kind]

    def measure(self, kind: str, n: int) -> float:
        """ms of the API process's CPU a request, over ``n`` after 3 unmeasured."""
        send = self.sender(kind)
        for _ in range(3):
            send()
        c0 = cpu_ns(self.proc.pid)
        for _ in range(n):
            send()
        return (cpu_ns(self.proc.pid) - c0) / n / 1e6

    def stop(self, admin: sa.Engine) -> None:
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
        with admin.begin() as conn:
            conn.execute(sa.text(f'DROP SCHEMA IF EXISTS "{self.schema}" CASCADE'))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("a")
    ap.add_argument("b")
    ap.add_argument("--kinds", nargs="*", default=[*SIMPLE, "launch", "detail-built"])
    ap.add_argument("--rounds", type=int, default=6)
    ap.add_argument("--requests", type=int, default=150)
    ap.add_argument("--launches", type=int, default=20)
    args = ap.parse_args()
    admin = sa.create_engine(PG_URL, poolclass=sa.pool.NullPool)
    servers: dict[str, _Server] = {}
    res: dict[str, dict[str, list[float]]] = {k: {"A": [], "B": []} for k in args.kinds}
    loads: list[float] = []
    with tempfile.TemporaryDirectory() as tmp:
        try:
            for name, tree in (("A", args.a), ("B", args.b)):
                servers[name] = _Server(tree, Path(tmp) / name, admin)

            def each_round(kind: str, n: int, before: Callable[[_Server], None]) -> None:
                for r in range(args.rounds):
                    for name in ("A", "B") if r % 2 == 0 else ("B", "A"):
                        before(servers[name])
                        res[kind][name].append(servers[name].measure(kind, n))
                    loads.append(os.getloadavg()[0])

            for kind in (k for k in args.kinds if k in SIMPLE):
                each_round(kind, args.requests, lambda s: None)
            if "launch" in args.kinds or "detail-built" in args.kinds:
                res.setdefault("launch", {"A": [], "B": []})
                # the engine's work of a server's last batch, done before its next one
                each_round("launch", args.launches, lambda s: s.wait_all(s.launched))
                for s in servers.values():
                    s.wait_all(s.launched)
            if "detail-built" in args.kinds:
                n = min(args.requests, len(servers["A"].launched) - 5)
                each_round("detail-built", n, lambda s: None)
        finally:
            for s in servers.values():
                s.stop(admin)
            admin.dispose()
    for kind, by in res.items():
        if not by["A"]:
            continue
        ratios = [b / a for a, b in zip(by["A"], by["B"], strict=True)]
        print(
            f"{kind:13s} A {statistics.median(by['A']):.3f}, B {statistics.median(by['B']):.3f}"
            f" ms of API CPU a request; B/A median {statistics.median(ratios):.3f} "
            f"({len(ratios)} pairs, {min(ratios):.2f}-{max(ratios):.2f})",
            flush=True,
        )
    print(f"load average {min(loads):.1f}-{max(loads):.1f}")


if __name__ == "__main__":
    main()
