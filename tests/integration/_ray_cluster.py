"""Real multi-node Ray clusters on this machine, for the cluster tests: one head started with
``ray start --head`` for the whole test session (no CPUs: attempts run on worker nodes), and
each test's worker nodes started with ``ray start --address`` beside it and removed after it.

The head starts once; a test's nodes are its own (their shapes, their environment), started
at once, and gone -- their processes killed and the head reporting them dead -- before the
next test is given its own. Nodes of earlier tests stay in Ray's node list, marked dead.
Modules that ask for the same shapes run one after the other (``_ray_order``, a module that
kills a node last; most ask for :data:`SHARED`, whatever they need of it, so that one start
serves them), and the next takes the nodes over instead of starting its own: only
nodes whose raylet still runs, that the head lists alive and whose resources are all free
again (the last test's workers gone); any other is killed and a fresh one started.
Each node keeps its session files (sockets, logs) in a folder of its own (``--temp-dir``,
which Ray takes per node): in the head's shared session folder, two nodes starting at the
same instant picked the same ``sockets/raylet.N`` name and one raylet aborted.

Every process of a node carries a mark in its environment (``AIRFOIL_TEST_RAY_NODE``, the
raylet passes its environment to the node's agents and workers): a node is removed by
killing exactly its processes by id -- never ``ray stop``, which would stop every Ray of this
user on the machine.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from importlib.util import find_spec
from pathlib import Path
from typing import Any

import pytest

MARK = "AIRFOIL_TEST_RAY_NODE"

#: The marks of a test module that runs on Ray throughout: ``pytestmark = needs_ray`` (or
#: ``[*needs_ray, more]``). Integration and slow, in the ``ray`` tier (``-m ray``, what it
#: costs ``make test``), and skipped where Ray is not installed (a found-spec check, not
#: ``importorskip``: importing Ray while collecting costs seconds).
needs_ray = [
    pytest.mark.integration,
    pytest.mark.slow,
    pytest.mark.ray,
    pytest.mark.skipif(
        find_spec("ray") is None, reason="ray is not installed: pip install 'airfoil[ray]'"
    ),
]

#: A placeholder in a node's environment for the head's session folder (:attr:`RayHead.temp`),
#: filled in when the node starts: a shape that names a folder stays equal across modules (and
#: its nodes shared) while the folder is the session's own.
HEAD_TEMP = "@HEAD_TEMP@"

#: ``ray start`` of a node that lost a start-up race it cannot avoid (Ray's own messages).
_RETRYABLE = ("Deadline Exceeded", "timed out during startup", "Address already in use")


@dataclass(frozen=True)
class NodeSpec:
    """A worker node's shape: ``ray start`` options and extra environment."""

    cpus: int
    gpus: int = 0
    resources: dict[str, float] = field(default_factory=dict)
    env: dict[str, str] = field(default_factory=dict)

    def path(self, name: str, head: RayHead) -> Path:
        """The folder the environment variable ``name`` names on a node started on ``head``."""
        return Path(self.env[name].replace(HEAD_TEMP, head.temp))

    def args(self) -> list[str]:
        import json

        args = [f"--num-cpus={self.cpus}"]
        if self.gpus:
            args.append(f"--num-gpus={self.gpus}")
        if self.resources:
            args.append(f"--resources={json.dumps(self.resources)}")
        return args


@dataclass
class RayNode:
    """A started worker node: its mark, and its Ray node id once the head lists it."""

    spec: NodeSpec
    mark: str
    node_id: str = ""


def _marked(marks: set[str]) -> dict[int, str]:
    """The processes of this user whose environment carries one of ``marks``: pid -> mark."""
    found = {}
    wanted = {f"{MARK}={m}".encode(): m for m in marks}
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/environ", "rb") as f:
                env = f.read().split(b"\0")
        except OSError:
            continue
        for entry in env:
            if entry in wanted:
                found[int(name)] = wanted[entry]
                break
    return found


def _kill(marks: set[str]) -> None:
    """SIGKILL every process carrying one of ``marks``, and their children, and wait
    (bounded) until each is dead.

    The children are found by parentage as well: a raylet's agents and workers set their
    process titles, which overwrites the environment ``/proc`` shows, so the mark alone
    missed them (they ended on their own once their raylet was gone). Dead means gone or a
    zombie: a killed process whose parent died too waits to be reaped by the machine's init,
    which took about a second here, and ``psutil.wait_procs`` waited for that.
    """
    import psutil

    procs: dict[int, psutil.Process] = {}
    for pid in _marked(marks):
        try:
            p = psutil.Process(pid)
            for q in [p, *p.children(recursive=True)]:
                procs.setdefault(q.pid, q)
        except psutil.Error:
            continue
    for q in procs.values():
        try:
            q.send_signal(signal.SIGKILL)
        except psutil.Error:
            continue
    deadline = time.monotonic() + 10
    left = list(procs.values())
    while left and time.monotonic() < deadline:
        left = [q for q in left if _alive(q)]
        if left:
            time.sleep(0.01)


def _alive(p: Any) -> bool:
    """Whether ``p`` (a psutil process) still runs: neither gone nor a zombie."""
    import psutil

    try:
        return bool(p.status() != psutil.STATUS_ZOMBIE)
    except psutil.Error:
        return False


#: Ids of the tests that failed, and of their modules (set by the integration conftest): their
#: nodes are not handed on, whatever state they left them in.
FAILED: set[str] = set()


def _failed(request: pytest.FixtureRequest) -> bool:
    return request.node.nodeid in FAILED


class RayHead:
    """A Ray head (no CPUs, no dashboard) with its session files in a temporary folder;
    :meth:`add` starts worker nodes on it, :meth:`remove` takes them away again."""

    def __init__(self, src: Path) -> None:
        self.temp = tempfile.mkdtemp(prefix="afray-")
        self.mark = f"head-{uuid.uuid4().hex[:12]}"
        self.env = dict(
            os.environ,
            PYTHONPATH=os.pathsep.join([str(src), os.environ.get("PYTHONPATH", "")]),
            RAY_USAGE_STATS_ENABLED="0",
            RAY_AUTH_MODE="disabled",
            # Notice a dead node within seconds (defaults: tens of seconds).
            RAY_health_check_initial_delay_ms="0",
            RAY_health_check_period_ms="500",
            RAY_health_check_timeout_ms="500",
            RAY_health_check_failure_threshold="3",
        )
        self.env.pop("RAY_ADDRESS", None)
        self.address = ""
        self.removed = 0  # worker nodes removed so far (Ray lists them, dead)
        self._state: Any = None
        self._marks = {self.mark}  # the head's and every node's ever added
        self._dying: set[str] = set()  # ids of nodes killed that the head may list alive
        self._idle: list[RayNode] = []  # nodes a cluster left for the next of its shapes

    def start(self) -> None:
        out = self._ray_start(
            self.mark, "--head", "--port=0", "--num-cpus=0", f"--temp-dir={self.temp}",
            "--include-dashboard=false", "--disable-usage-stats",
        )  # fmt: skip
        found = re.search(r"--address='([^']+)'", out)
        assert found, out
        self.address = found.group(1)

    def stop(self) -> None:
        """Kill every process of the head, and of any node left on it, by id."""
        if self._state is not None:
            self._state.disconnect()
            self._state = None
        _kill(self._marks)
        shutil.rmtree(self.temp, ignore_errors=True)

    def nodes(self) -> list[dict[str, Any]]:
        """Ray's node table as the head's GCS has it now (alive and dead nodes)."""
        if self._state is None:
            # Read by a client of the GCS alone (as Ray's own ``ray.cluster_utils`` does):
            # this process may also be the driver of the session's local Ray.
            from ray._private.state import GlobalState
            from ray._raylet import GcsClientOptions

            state = GlobalState()
            state._initialize_global_state(
                GcsClientOptions.create(
                    self.address, None, allow_cluster_id_nil=True, fetch_cluster_id_if_nil=False
                )
            )
            self._state = state
        return list(self._state.node_table())

    def add(self, *specs: NodeSpec) -> list[RayNode]:
        """Start worker nodes of these shapes, all at once (each in its own session folder),
        and wait until the head lists each alive. A node whose start Ray gives up on (a
        loaded machine) is stopped and started again."""
        nodes = [RayNode(spec, f"node-{uuid.uuid4().hex[:12]}") for spec in specs]
        self._marks |= {n.mark for n in nodes}
        started: list[tuple[RayNode, subprocess.Popen[str]]] = []
        try:
            started = [(node, self._popen(node)) for node in nodes]
            for node, proc in started:
                out, _ = proc.communicate(timeout=180)
                if proc.returncode != 0:
                    if not any(r in out for r in _RETRYABLE):
                        raise AssertionError(f"ray start {node.spec}: {out}")
                    _kill({node.mark})
                    again = self._popen(node)
                    out, _ = again.communicate(timeout=180)
                    assert again.returncode == 0, f"ray start {node.spec} (again): {out}"
            self._await_ids(nodes)
            self._await_dead()
        except BaseException:
            for _, proc in started:
                if proc.poll() is None:
                    proc.kill()
            self.remove(nodes)
            raise
        return nodes

    def take(self, *specs: NodeSpec) -> list[RayNode]:
        """Nodes of these shapes, in their order: those left by :meth:`keep` where they match
        and are sound (:meth:`_sound`), the others started (:meth:`add`); any node left that
        is not taken is removed."""
        idle, self._idle = self._idle, []
        sound = self._sound(idle)
        taken: list[RayNode | None] = [None] * len(specs)
        for node in idle:
            free = next(
                (i for i, s in enumerate(specs) if taken[i] is None and s == node.spec), None
            )
            if node in sound and free is not None:
                taken[free] = node
            else:
                self.remove([node])
        started = iter(self.add(*(s for s, n in zip(specs, taken, strict=True) if n is None)))
        return [n if n is not None else next(started) for n in taken]

    def keep(self, nodes: list[RayNode]) -> None:
        """Leave these nodes running for the next :meth:`take` (the next test's cluster)."""
        self._idle.extend(nodes)

    def _sound(self, nodes: list[RayNode], timeout: float = 20.0) -> list[RayNode]:
        """Those of ``nodes`` fit to serve another test: the raylet runs, the head lists the
        node alive, and every resource it declares is free (the workers of the test before,
        dying with their drivers, hand theirs back within a second or so; bounded)."""
        import psutil

        if not nodes:
            return []
        raylets = set()
        for pid, mark in _marked({n.mark for n in nodes}).items():
            try:
                if psutil.Process(pid).name() == "raylet" and _alive(psutil.Process(pid)):
                    raylets.add(mark)
            except psutil.Error:
                continue
        left = [n for n in nodes if n.mark in raylets]
        deadline = time.monotonic() + timeout
        while True:
            alive = {n["NodeID"] for n in self.nodes() if n["Alive"]}
            left = [n for n in left if n.node_id in alive]
            free = self._state.available_resources_per_node()
            idle = [n for n in left if _all_free(n.spec, free.get(n.node_id, {}))]
            if len(idle) == len(left) or time.monotonic() > deadline:
                return idle
            time.sleep(0.1)

    def remove(self, nodes: list[RayNode]) -> None:
        """Kill these nodes' processes. The next :meth:`add` returns only once the head
        reports them dead (meanwhile its nodes start)."""
        _kill({n.mark for n in nodes})
        self.removed += len(nodes)
        self._dying |= {n.node_id for n in nodes if n.node_id}

    def _await_dead(self) -> None:
        deadline = time.monotonic() + 60
        while self._dying:
            self._dying &= {n["NodeID"] for n in self.nodes() if n["Alive"]}
            if self._dying:
                assert time.monotonic() < deadline, f"nodes alive 60 s after a kill: {self._dying}"
                time.sleep(0.1)

    def _ray_start(self, mark: str, *args: str, env: dict[str, str] | None = None) -> str:
        proc = self._spawn(mark, list(args), env)
        out, _ = proc.communicate(timeout=180)
        assert proc.returncode == 0, out
        return out

    def _popen(self, node: RayNode) -> subprocess.Popen[str]:
        # Short: Ray's socket paths (under the node's session folder) are bounded.
        temp = os.path.join(self.temp, node.mark[-8:])
        return self._spawn(
            node.mark,
            [f"--address={self.address}", f"--temp-dir={temp}", *node.spec.args()],
            {k: v.replace(HEAD_TEMP, self.temp) for k, v in node.spec.env.items()},
        )

    def _spawn(
        self, mark: str, args: list[str], env: dict[str, str] | None
    ) -> subprocess.Popen[str]:
        ray_cli = str(Path(sys.executable).with_name("ray"))
        # Each node's dashboard agent listens on a port of its own choosing: by default every
        # agent asks for 52365, which the first Ray of the machine holds (the session's local
        # Ray), and the others retried it for 3.4 s before giving up -- a raylet registers
        # with the head only once its agents have, so every node's start waited for it.
        # No log monitor (a Python process per node that forwards workers' output to their
        # drivers): Airfoil's drivers do not ask for it (``log_to_driver=False``).
        return subprocess.Popen(
            [
                "nice",
                "-n",
                "10",
                ray_cli,
                "start",
                "--dashboard-agent-listen-port=0",
                "--include-log-monitor=false",
                *args,
            ],
            env={**self.env, **(env or {}), MARK: mark},
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )

    def _await_ids(self, nodes: list[RayNode]) -> None:
        """Note each node's Ray id: the alive node whose raylet socket its raylet serves."""
        import psutil

        sockets: dict[str, str] = {}
        for pid, mark in _marked({n.mark for n in nodes}).items():
            try:
                args = psutil.Process(pid).cmdline()
            except psutil.Error:
                continue
            for a in args:
                if a.startswith("--raylet_socket_name="):
                    sockets[a.split("=", 1)[1]] = mark
        deadline = time.monotonic() + 60
        while True:
            table = self.nodes()
            for n in table:
                mark = sockets.get(n.get("RayletSocketName", ""))
                if n["Alive"] and mark is not None:
                    next(x for x in nodes if x.mark == mark).node_id = n["NodeID"]
            if all(x.node_id for x in nodes):
                return
            assert time.monotonic() < deadline, f"nodes never listed alive: {nodes} {table}"
            time.sleep(0.1)


def _all_free(spec: NodeSpec, available: dict[str, float]) -> bool:
    """Whether a node of ``spec`` has all it declares available."""
    declared = {"CPU": spec.cpus, "GPU": spec.gpus, **spec.resources}
    return all(available.get(k, 0.0) >= v for k, v in declared.items() if v)


def _cache(i: int) -> dict[str, str]:
    return {"AIRFOIL_BLOB_CACHE_DIR": f"{HEAD_TEMP}/cache-{i}"}


#: The worker nodes most cluster modules share (``RAY_NODES = SHARED``: the locality, the
#: scheduling, the admission on Ray and ``test_ray_cluster.py``, which kills one, last), so
#: that one start serves them all: two 2-CPU nodes, the first with the custom resource ``a``,
#: and a 1-CPU node with a fake GPU; each node caches blobs in a folder of its own
#: (``NodeSpec.path``), used by the tests that turn the cache on (locality).
SHARED = (
    NodeSpec(cpus=2, resources={"a": 1}, env=_cache(1)),
    NodeSpec(cpus=2, env=_cache(2)),
    NodeSpec(cpus=1, gpus=1, env=_cache(3)),
)


#: The worker nodes of the fairness and the cluster training modules (``RAY_NODES = GPU_PAIRS``:
#: the cluster training kills one, so it runs last), started once for both: three 2-CPU nodes
#: with two fake GPUs each. Six GPUs for the fairness flood (its tasks ask for a GPU and no
#: CPU); a training rank asking for 2 CPUs takes a node whole, so a 2-rank gang spans two
#: nodes and a third is left for its restart when one is lost. Two CPUs, not one: a raylet
#: starts at most as many workers at once as its node has CPUs (Ray's
#: ``maximum_startup_concurrency``), and one at a time starved the flood's warm workers.
GPU_PAIRS = (NodeSpec(cpus=2, gpus=2),) * 3


class Cluster:
    """The worker nodes of one test (or module) on the session's head: ``address`` and
    ``env`` to drive it, ``temp`` a folder of its own, ``nodes`` once :meth:`start` ran."""

    specs: tuple[NodeSpec, ...] = SHARED

    def __init__(self, head: RayHead, *specs: NodeSpec) -> None:
        self.head = head
        if specs:
            self.specs = specs
        self.address = head.address
        self.env = head.env
        self.temp = tempfile.mkdtemp(prefix="cluster-", dir=head.temp)
        self.nodes: list[RayNode] = []

    def start(self) -> None:
        self.nodes = self.head.take(*self.specs)

    def stop(self, keep: bool = False) -> None:
        """Remove the nodes, or (``keep``) leave them for the next test's cluster, which
        takes them over if they are sound."""
        if keep:
            self.head.keep(self.nodes)
        else:
            self.head.remove(self.nodes)
        self.nodes = []
        shutil.rmtree(self.temp, ignore_errors=True)


#: Ids of the items (and modules) whose nodes the next item takes over (``_ray_order``, set by
#: the integration conftest when the session's items are ordered).
KEEP: set[str] = set()


def nodes_key(specs: tuple[NodeSpec, ...] | None) -> str | None:
    """The key of a module's ``RAY_NODES`` (its worker nodes' shapes) for ``_ray_order``."""
    return None if specs is None else repr(sorted(repr(s) for s in specs))


def running(c: Cluster, request: pytest.FixtureRequest | None = None) -> Iterator[Cluster]:
    """A fixture's body: ``c``'s nodes started (or taken over), then removed whatever
    happened -- or left for the next item (``request``'s test or module) when it asks for
    the same shapes and this one passed."""
    try:
        c.start()
        yield c
    finally:
        keep = request is not None and request.node.nodeid in KEEP and not _failed(request)
        c.stop(keep=keep)
