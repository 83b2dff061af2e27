"""One admission authority per cluster: server replicas sharing a database and a cluster
admit through whichever of them holds the cluster's authority lease.

Each replica's :class:`AuthorityQueue` stands where a process's
:class:`~airfoil.engine._resources.ResourceQueue` stands for its drive loops (same calls),
but decides nothing itself:

- :meth:`AuthorityQueue.submit` writes the attempt's request (its work item) to the
  database; :meth:`AuthorityQueue.finish` deletes it;
- a background thread of each replica (the agent) renews the replica's requests, tries to
  take or renew the cluster's authority lease, and, while it holds it, runs the policy pass:
  it reads every replica's requests, mirrors them into a ``ResourceQueue`` (the same policy,
  quotas, fair shares, placement and GPU indices as in one process), asks it what starts and
  what is preempted, and writes those decisions back in one transaction fenced by its lease;
- the agent reads back its own requests' outcome and hands grants and preemptions to the
  drive loops, which take them with :meth:`AuthorityQueue.take` as from a local queue.

Invariants:

- Only the lease holder's decisions are written (a holder that lost its lease finds the
  fence closed, drops its policy state and decides nothing until it holds the lease again;
  a new holder rebuilds the policy state from the rows: waiting ones queued, granted ones
  counted as running where they were placed).
- A replica that dies stops renewing its requests; past ``lease_s`` the holder deletes them,
  so the dead replica's attempts stop holding quota (its executions are re-driven elsewhere
  through their own leases and queue again).
- A holder that dies stops renewing the lease; another replica's agent takes it over at its
  first try after ``lease_s`` (it tries every ``lease_s / 3``), so admission pauses for at
  most about ``lease_s * 4/3`` and what was granted keeps running.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field

import msgspec

from airfoil.core.lazy_json import LazyDecoder
from airfoil.core.records import TaskSpec
from airfoil.engine._resources import Outcomes, ResourceQueue, record_runtime
from airfoil.scheduler import WorkItem
from airfoil.store._scheduling import QueueSnapshot
from airfoil.store.admission import AdmissionRow, AdmissionStore, Grant, Preemption
from airfoil.store.base import MetaStore

__all__ = ["AuthorityQueue"]

log = logging.getLogger("airfoil.engine")

_ITEM = LazyDecoder(WorkItem)


def _encode(item: WorkItem) -> str:
    return msgspec.json.encode(item).decode()


@dataclass
class _Mine:
    """One of this replica's requests, as its drive loop knows it."""

    execution_id: str
    node_id: str
    task: str
    ticket: str
    item: WorkItem
    state: str = "waiting"  # waiting | granted | preempted
    placement: tuple[str, ...] = ()
    gpus: tuple[str, ...] = ()


@dataclass
class _Holding:
    """The policy state of a replica while it holds the authority."""

    epoch: int
    policy: ResourceQueue
    #: item id -> (ticket, state the policy has it in: waiting | running | preempted)
    known: dict[str, tuple[str, str]] = field(default_factory=dict)


class AuthorityQueue(Outcomes):
    """A replica's admission through the cluster's authority (see the module).

    Args:
        store: the admission tables (the database every replica shares).
        cluster: the cluster's key (every replica admitting onto one cluster uses the same).
        owner: this replica's name (``host:pid:nonce``): holder of leases and requests.
        make_policy: builds a policy queue over the cluster's capacity (the one a single
            process would decide with); called once for launch-time checks and again each
            time this replica takes the authority.
        meta: where successful attempts' durations are recorded (the run-time history).
        lease_s: how long the authority and this replica's requests hold unless renewed.
        poll_s: how often the agent looks at the database when nothing woke it.
        clock: seconds since the epoch, shared by every replica (leases compare them).
    """

    def __init__(
        self,
        store: AdmissionStore,
        cluster: str,
        owner: str,
        make_policy: Callable[[], ResourceQueue],
        *,
        meta: MetaStore | None = None,
        lease_s: float = 5.0,
        poll_s: float = 0.05,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.store = store
        self.cluster = cluster
        self.owner = owner
        self.meta = meta
        self.lease_s = lease_s
        self.poll_s = poll_s
        self.clock = clock
        self._make_policy = make_policy
        self._checker = make_policy()
        self._lock = threading.Lock()
        self._mine: dict[str, _Mine] = {}
        self._granted: dict[str, list[str]] = {}
        self._preempted: dict[str, list[str]] = {}
        self._holding: _Holding | None = None
        self._lease_at = float("-inf")
        self._renewed_at = float("-inf")
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._passes = 0
        #: when the agent's cycles started failing (the database is away), and when that
        #: was last logged (once, then every 30 s: not at every poll)
        self._failing_since: float | None = None
        self._logged_at = 0.0
        self._agent = threading.Thread(target=self._run, name=f"admission-{cluster}", daemon=True)
        self._agent.start()

    # -- a drive loop's calls (those of ResourceQueue) ---------------------------------

    def check(self, task: TaskSpec, node_id: str, project: str) -> None:
        """Raise if the task could never start on the cluster (see ``ResourceQueue.check``)."""
        self._checker.check(task, node_id, project)

    def submit(
        self,
        execution_id: str,
        node_id: str,
        project: str,
        task: TaskSpec,
        *,
        prefer: tuple[str, ...] = (),
    ) -> None:
        """Queue the next attempt of a node: its request goes to the database (with the
        nodes it prefers: they hold its inputs)."""
        item_id = f"{execution_id}/{node_id}"
        with self._lock:
            mine = self._mine.get(item_id)
            if mine is not None and mine.state != "preempted":
                return
        if mine is None:
            item = self._checker.new_item(execution_id, node_id, project, task, prefer=prefer)
            mine = _Mine(execution_id, node_id, task.name, uuid.uuid4().hex[:16], item)
            self.store.put_request(self.cluster, self._row(mine))
            with self._lock:  # only now: the agent takes a known request without a row
                self._mine[item_id] = mine  # for one its owner missed renewing
        else:  # a preempted attempt queued again: same ticket, its item as the policy left it
            with self._lock:
                mine.state, mine.placement, mine.gpus = "waiting", (), ()
            self.store.put_request(self.cluster, self._row(mine))
        self._wake.set()

    def decide(self) -> None:
        """Nothing to do here: the agent decides (if this replica holds the authority) and
        collects the outcome; :meth:`take` hands it out."""

    def gpus_of(self, execution_id: str, node_id: str) -> tuple[str, ...]:
        """The GPU indices a granted node was placed on."""
        with self._lock:
            mine = self._mine.get(f"{execution_id}/{node_id}")
            return mine.gpus if mine is not None and mine.state == "granted" else ()

    def placement_of(self, execution_id: str, node_id: str) -> tuple[str, ...]:
        """The cluster nodes a granted node was placed on (empty on a machine queue)."""
        if self._checker.cluster is None:
            return ()
        with self._lock:
            mine = self._mine.get(f"{execution_id}/{node_id}")
            return mine.placement if mine is not None and mine.state == "granted" else ()

    def finish(
        self,
        execution_id: str,
        node_id: str,
        *,
        succeeded: bool = False,
        attempt: int = 0,
        duration: float | None = None,
    ) -> None:
        """A node's attempt ended (or was cancelled, or will not start): its request goes,
        and with it what it held."""
        with self._lock:
            mine = self._mine.pop(f"{execution_id}/{node_id}", None)
        if mine is None:
            return
        self.store.delete_requests(self.cluster, [(f"{execution_id}/{node_id}", mine.ticket)])
        self._wake.set()
        if succeeded and duration is not None and duration >= 0 and self.meta is not None:
            now = self.clock()
            record_runtime(self.meta, mine.task, execution_id, node_id, attempt, duration, now)

    def forget(self, execution_id: str) -> None:
        """Drop everything of an execution (its drive ended): waiting, granted, running."""
        with self._lock:
            nodes = [m.node_id for m in self._mine.values() if m.execution_id == execution_id]
            self._granted.pop(execution_id, None)
            self._preempted.pop(execution_id, None)
        for node_id in nodes:
            self.finish(execution_id, node_id)

    # -- views and lifetime --------------------------------------------------------------

    @property
    def holding(self) -> bool:
        """Whether this replica holds the cluster's authority now."""
        return self._holding is not None

    @property
    def passes(self) -> int:
        """How many policy passes this replica has run (as the authority)."""
        return self._passes

    def snapshot(self) -> QueueSnapshot:
        """The cluster's queue as this replica's policy sees it (everything, while it holds
        the authority; nothing otherwise: the holder's snapshot is in the store)."""
        holding = self._holding
        return (holding.policy if holding is not None else self._checker).snapshot()

    def close(self) -> None:
        """Stop the agent, give the authority up (another replica takes it at its next try)
        and withdraw this replica's requests."""
        self._stop.set()
        self._wake.set()
        self._agent.join(10)
        with self._lock:
            keys = [(k, m.ticket) for k, m in self._mine.items()]
            self._mine.clear()
        try:
            self.store.delete_requests(self.cluster, keys)
            if self._holding is not None:
                self._drop_authority()
                self.store.release_authority(self.cluster, self.owner)
        except Exception:  # pragma: no cover - best effort at shutdown
            log.exception("giving the admission authority of %s up failed", self.cluster)

    # -- the agent ---------------------------------------------------------------------

    def _run(self) -> None:
        while not self._stop.is_set():
            self._wake.wait(self.poll_s)
            self._wake.clear()
            if self._stop.is_set():
                return
            try:
                self.cycle()
                if self._failing_since is not None:
                    log.warning("the admission agent of %s works again", self.cluster)
                    self._failing_since = None
            except Exception:  # the database is away: try again at the next cycle
                now = time.monotonic()
                if self._failing_since is None or now - self._logged_at >= 30.0:
                    log.exception("the admission agent of %s failed a cycle", self.cluster)
                    self._logged_at = now
                    self._failing_since = self._failing_since or now

    def cycle(self) -> None:
        """One round of the agent: renew, claim, decide (as the holder), collect."""
        now = self.clock()
        third = self.lease_s / 3
        with self._lock:
            busy = bool(self._mine)
        if busy and now - self._renewed_at >= third:
            self.store.renew_requests(self.cluster, self.owner, now + self.lease_s)
            self._renewed_at = now
        if now - self._lease_at >= third:
            self._lease_at = now
            self._claim(now)
        if self._holding is not None:
            self._decide(self._holding)
        if busy:
            self._collect()

    def _claim(self, now: float) -> None:
        before = self.store.authority(self.cluster) if self._holding is None else None
        lease = self.store.claim_authority(self.cluster, self.owner, now, self.lease_s)
        mine = lease.holder == self.owner and lease.lease_until > now
        holding = self._holding
        if holding is not None and (not mine or lease.epoch != holding.epoch):
            self._drop_authority()
            holding = None
        if mine and holding is None:
            log.info(
                "this replica (%s) holds the admission authority of %s (epoch %d)",
                self.owner,
                self.cluster,
                lease.epoch,
            )
            self._holding = _Holding(lease.epoch, self._make_policy())
            if before is not None and before.holder != self.owner and self.meta is not None:
                # the queue view was the previous holder's: a dead one's would linger
                self.meta.delete_queue_snapshot(before.holder)

    def _drop_authority(self) -> None:
        holding, self._holding = self._holding, None
        if holding is not None:
            log.info("this replica (%s) no longer decides for %s", self.owner, self.cluster)
            holding.policy.close()  # its snapshot: the new holder writes its own

    def _decide(self, holding: _Holding) -> None:
        """The holder's pass: mirror every replica's requests into the policy, decide, write
        the decisions (fenced by the lease)."""
        now = self.clock()
        rows = self.store.requests(self.cluster)
        # a replica's requests outlive a missed renewal or two: only after twice the lease
        # is their owner taken for dead (its executions have moved by then)
        gone = now - self.lease_s
        dead = [(r.item_id, r.ticket) for r in rows if r.alive_until < gone]
        if dead:
            log.warning(
                "admission requests of replicas that stopped renewing them removed: %s",
                ", ".join(k for k, _ in dead),
            )
            self.store.delete_requests(self.cluster, dead)
        live = {r.item_id: r for r in rows if r.alive_until >= gone}
        policy, known = holding.policy, holding.known
        for item_id, (ticket, _state) in list(known.items()):
            row = live.get(item_id)
            if row is None or row.ticket != ticket:
                execution_id, node_id = item_id.rsplit("/", 1)
                policy.finish(execution_id, node_id)
                del known[item_id]
        fresh = [k for k, row in live.items() if row.ticket != known.get(k, ("", ""))[0]]
        if fresh:  # a quota set just before a launch holds for its first decision
            policy.refresh_quotas()
        for item_id, row in live.items():
            self._mirror(policy, known, item_id, row)
        policy.decide()
        granted, preempted = policy.take_all()
        grants = [
            Grant(
                f"{e}/{n}",
                known[f"{e}/{n}"][0],
                policy.policy_placement_of(e, n),
                policy.gpus_of(e, n),
            )
            for e, n in granted
        ]
        stops = [
            Preemption(f"{e}/{n}", known[f"{e}/{n}"][0], _encode(item)) for e, n, item in preempted
        ]
        if not grants and not stops:
            policy.persist(force=False)
            return
        try:
            written = self.store.grant(self.cluster, self.owner, holding.epoch, now, grants, stops)
        except Exception:  # unknown whether it was written: decide afresh from the rows
            self._drop_authority()
            self._lease_at = float("-inf")
            raise
        if not written:
            log.warning("the admission authority of %s moved: decisions dropped", self.cluster)
            self._drop_authority()
            self._lease_at = float("-inf")
            return
        self._passes += 1
        for g in grants:
            known[g.item_id] = (g.ticket, "running")
        for p in stops:
            known[p.item_id] = (p.ticket, "preempted")
        policy.persist(force=False)

    @staticmethod
    def _mirror(
        policy: ResourceQueue, known: dict[str, tuple[str, str]], item_id: str, row: AdmissionRow
    ) -> None:
        """Bring the policy's view of one request to the row's state (a row of a ticket the
        policy did not know was already removed from it)."""
        state = known.get(item_id, ("", ""))[1]
        if state == row.state:
            return
        execution_id, node_id = item_id.rsplit("/", 1)
        if state in ("waiting", "running") or (state == "preempted" and row.state == "running"):
            policy.finish(execution_id, node_id)  # a preempted one keeps its resume state
            state = ""
        if row.state == "waiting":  # one this policy preempted resumes where it stopped
            policy.submit_item(execution_id, node_id, row.task, _ITEM.decode(row.item))
        elif row.state == "running":  # granted by an earlier holder
            try:
                policy.adopt(
                    execution_id,
                    node_id,
                    row.task,
                    _ITEM.decode(row.item),
                    row.placement,
                    row.gpus,
                    row.granted_at,
                )
            except Exception as exc:  # its nodes left meanwhile: it drains uncounted
                log.warning("cannot count %s as running: %s", item_id, exc)
        elif state == "":  # preempted by an earlier holder: nothing held until queued again
            known.pop(item_id, None)
            return
        known[item_id] = (row.ticket, row.state)

    def _collect(self) -> None:
        """Hand this replica's grants and preemptions to its drive loops."""
        rows = {r.item_id: r for r in self.store.requests(self.cluster, self.owner)}
        with self._lock:
            missing = any(k not in rows for k in self._mine)
        if missing:  # taken for dead, or another replica drives the execution now?
            rows = {r.item_id: r for r in self.store.requests(self.cluster)}
        lost: list[_Mine] = []
        with self._lock:
            for item_id, mine in self._mine.items():
                row = rows.get(item_id)
                if row is None:
                    lost.append(mine)
                    continue
                if row.ticket != mine.ticket or row.owner != self.owner:
                    continue  # another replica drives the execution now: its drive here ends
                if mine.state == "waiting" and row.state == "running":
                    mine.state, mine.placement, mine.gpus = "granted", row.placement, row.gpus
                    self._granted.setdefault(mine.execution_id, []).append(mine.node_id)
                elif mine.state == "granted" and row.state == "preempted":
                    mine.state, mine.item = "preempted", _ITEM.decode(row.item)
                    self._preempted.setdefault(mine.execution_id, []).append(mine.node_id)
        for mine in lost:  # removed while this replica was taken for dead: put it back as
            # it is (a granted one as running where it runs, so it is counted, not re-granted)
            log.warning(
                "the admission request of %s/%s was removed (this replica missed renewing "
                "it for twice the lease); put back as %s",
                mine.execution_id,
                mine.node_id,
                mine.state,
            )
            self.store.put_request(self.cluster, self._row(mine))

    def _row(self, mine: _Mine) -> AdmissionRow:
        granted = mine.state == "granted"
        return AdmissionRow(
            state="running" if granted else "waiting",
            placement=mine.placement if granted else (),
            gpus=mine.gpus if granted else (),
            granted_at=self.clock() if granted else 0.0,
            item_id=f"{mine.execution_id}/{mine.node_id}",
            owner=self.owner,
            ticket=mine.ticket,
            item=_encode(mine.item),
            task=mine.task,
            submit_time=mine.item.submit_time,
            alive_until=self.clock() + self.lease_s,
        )
