"""The deployment supervisor: keeps each deployment's ``airfoil serve`` processes running.

A thread of the server (started with the engine) that, every ``interval_s`` (while nothing
is deployed, less often: up to ``idle_interval_s``), reads the deployments from the
artifact store and makes the processes match them:

- a deployment with ``replicas`` N has N replicas, each an ``airfoil serve REF`` child on a
  free 127.0.0.1 port, in a session of its own (Ctrl-C to the server does not reach them),
  with the server's database, blob store and home, and the deployment's project;
- a replica that exits, or that was ready and has stopped answering ``/health`` (or
  answers it 503 ``stuck``: a prediction runs past its timeout) for ``hung_after_s`` (it is
  killed, the reason recorded with the 503's detail), is restarted after a backoff (0.5 s
  doubling to 30 s; a replica that served for a minute starts again from 0.5 s) and its
  restart count goes up;
- a replica that answers ``/health`` is ``ready`` with the version it serves: services follow
  their alias themselves (``NAME@ALIAS``), so an alias move rolls every replica to the new
  version, each swapping with no failed request;
- a deployment removed (``stop``) has its processes terminated (SIGTERM, then SIGKILL);
- a deployment whose replicas ask for resources (``cpus``, ``memory``, ``gpus``) starts each
  replica only once the server's resource queue granted it its share (``queued`` until then;
  see :mod:`airfoil.server._deploy_admission`), with ``CUDA_VISIBLE_DEVICES`` set to its GPUs,
  pinned to its whole CPUs, and killed (``out of memory``, then restarted) when its resident
  memory goes over its ``memory`` (see :mod:`airfoil.server._replica_limits`);
- once a deployment's replicas all serve, a zygote (a process that imported the service's
  libraries and the model's file) is kept for it, and later replicas (restarts, scale-ups)
  are forked from it instead of started cold (see :mod:`airfoil.ml._zygote`).

A deployment recorded ``on="ray"`` is a Ray Serve application instead, kept by
:class:`~airfoil.server._ray_deployments.RayDeployments` in the same pass and under the same
lease (no process of it is started or signalled here).

Every change is written to the deployment's record, which the API and the console read,
including what each ready replica reports of the rows it served (its ``/drift``, read at most
every second, and at once from a new process of it; see :mod:`airfoil.server._drift`), so the
drift of a deployment keeps the rows served before a replica or the server restarted, and
the drift route reads the record alone (it asks no replica).
Several servers on one database each run a supervisor; a deployment's processes are run
by the one holding its lease (claimed atomically in the store, renewed every pass), and
another takes over, re-adopting the processes, when the holder's lease runs out. The lease
fences a pass: its record is written only if this supervisor still holds the lease under the
epoch the pass claimed (checked in the same write, ``put_deployment(lease=...)``; the epoch
goes up whenever the holder changes, so a supervisor that lost the deployment and claimed it
back cannot finish an earlier pass), and it writes only the supervisor's fields, so a user's
deploy made while the pass ran is kept. The lease is renewed (and its epoch checked) before
each process is started or stopped and before a Ray Serve application is deployed or
scaled; a pass that ran past its lease and finds the deployment
claimed by another server stops acting on it: the processes it started in that pass (never
recorded) are terminated, the others are left to the new holder to re-adopt.
Replica processes outlive the server: a new server re-adopts a recorded replica that still
answers ``/health`` for the deployment's model on its port (a 503 ``stuck`` included: it is
the deployment's, killed if it stays stuck, and ``deploy stop`` ends it), and restarts the
others (one whose process lives is asked again each pass for ``_ADOPT_GRACE_S`` before
that: on a busy machine a first ``/health`` can take longer than its timeout).

Invariant: only processes this supervisor started, or re-adopted after checking their
``/health``, are ever signalled.
"""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import threading
import time
from typing import Any

import httpx
import msgspec

from airfoil.core.errors import ConfigError
from airfoil.core.projects import qualified_name
from airfoil.engine._drive_support import process_owner
from airfoil.server._deploy_admission import ReplicaAdmission, describe_resources
from airfoil.server._drift import running_sources, served_drift, source_of
from airfoil.server._model_key import ModelKeyError
from airfoil.server._ray_deployments import RayDeployments
from airfoil.server._replica_limits import (
    describe_mib,
    kill_group,
    pick_cpus,
    pid_alive,
    signal_pid,
    tree_rss,
)
from airfoil.server._replica_procs import Process as _Process
from airfoil.server._replica_procs import backoff_s, exited, free_port, health, port_free
from airfoil.server._service_env import KEY_RECHECK_S, ServiceEnv, probe_key
from airfoil.server._zygotes import Zygote, ZygoteError
from airfoil.store.artifacts import ArtifactStore, DeploymentLeaseLost, deployment_lease_lost
from airfoil.store.deployments import Deployment, DeploymentLease, Replica

__all__ = ["ServiceEnv", "Supervisor", "backoff_s", "free_port"]

log = logging.getLogger("airfoil.server.deployments")

_STABLE_S = 60.0  # a replica that ran this long restarts from the first backoff again
#: An adopted replica that stops answering this long is restarted, and a recorded one whose
#: process lives is asked this long before it is given up.
_ADOPT_GRACE_S = 5.0
#: How long a forked replica that has exited waits for its zygote to report its exit code
#: (it reaps on its next wake-up, or once a fork or re-exec it is busy with is done) before
#: it is restarted without one.
_EXIT_REPORT_S = 10.0
#: How often a ready replica's drift statistics are copied to its deployment's record.
_DRIFT_EVERY_S = 1.0


_Key = tuple[str, str, int]

#: The most :meth:`Supervisor.close` takes (the server's stop waits for it).
CLOSE_S = 5.0


def _left(deadline: float) -> float:
    return max(0.0, deadline - time.monotonic())


class Supervisor:
    """Runs the deployments of an artifact store.

    Args:
        store: where the deployments are (the server's artifact store).
        env: the service processes' environment.
        interval_s: how often deployments and processes are checked.
        idle_interval_s: how often at most while nothing is deployed (the wait doubles from
            ``interval_s`` up to this): an idle server does not read the deployments four
            times a second. A deployment made through this server's API starts at once (the
            API reconciles itself); one written by another process is seen within this.
        python: the interpreter the services run with.
        hung_after_s: a ready replica that has not answered ``/health`` this long (stopped,
            deadlocked) is killed, and so restarted.
        lease_ttl_s: how long a deployment's lease lasts without renewal: with several
            servers on one database, each deployment is run by the one holding its lease
            (renewed every pass), and another takes it over (re-adopting the processes)
            this long after the holder stops.
        ray: runs the deployments recorded ``on="ray"`` (Ray Serve applications); None:
            this supervisor leaves them alone.
        default_on: where a deployment that does not say runs (``process`` or ``ray``).
        admission: admits the replicas of process deployments that ask for resources
            through the server's resource queue; None: such replicas start without asking.
        zygotes: once a deployment's replicas are all ready, keep a zygote for it (a
            process that imported the service's libraries and the model's file) and fork
            its later replicas (restarts, scale-ups) from it instead of starting them cold.
    """

    def __init__(
        self,
        store: ArtifactStore,
        env: ServiceEnv,
        *,
        interval_s: float = 0.25,
        idle_interval_s: float = 2.0,
        python: str = sys.executable,
        hung_after_s: float = 30.0,
        lease_ttl_s: float = 10.0,
        ray: RayDeployments | None = None,
        default_on: str = "process",
        admission: ReplicaAdmission | None = None,
        zygotes: bool = True,
    ) -> None:
        self.store = store
        self.use_zygotes = zygotes
        self._zygotes: dict[tuple[str, str], Zygote] = {}
        self._zygote_retry_at: dict[tuple[str, str], float] = {}
        self.admission = admission
        self.ray = ray
        self.default_on = default_on
        self._ray_held: set[tuple[str, str]] = set()
        self.hung_after_s = hung_after_s
        self.lease_ttl_s = lease_ttl_s
        #: This supervisor's name in the deployments' leases.
        self.owner = process_owner()
        self.env = env
        self.interval_s = interval_s
        self.idle_interval_s = max(idle_interval_s, interval_s)
        #: whether the last pass found a deployment to run (for the idle back-off)
        self._any_deployment = True
        self.python = python
        self._procs: dict[_Key, _Process] = {}
        #: The replicas started in the deployment this pass is at (not recorded yet).
        self._started: set[_Key] = set()
        #: The lease the pass holds on the deployment it is at (its epoch fences the pass).
        self._lease = DeploymentLease(self.owner, 0)
        #: Recorded replicas whose process lives but has not answered yet: when first asked.
        self._adopting: dict[_Key, float] = {}
        #: Which process of each replica its drift was last read from, and when (monotonic).
        self._drift_at: dict[_Key, tuple[str, float]] = {}
        self._lock = threading.Lock()  # one reconcile at a time (thread and API calls)
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self._http = httpx.Client(timeout=0.5)

    # --- lifecycle ------------------------------------------------------------------------

    def start(self) -> None:
        self._stopping.clear()
        self._thread = threading.Thread(target=self._loop, name="airfoil-deployments", daemon=True)
        self._thread.start()

    def close(self, timeout_s: float = CLOSE_S) -> None:
        """Stop supervising; the service processes keep running (a new server re-adopts
        them). Bounded by ``timeout_s`` in all (a server's stop is: ``GRACEFUL_SHUTDOWN_S``):
        handing a deployment's lease back goes through the store, which retries through a
        database outage for its budget (120 s) per deployment; what is not handed back by
        then runs out in ``lease_ttl_s``, and the next server takes it over then."""
        deadline = time.monotonic() + timeout_s
        self._stopping.set()
        if self._thread is not None:
            self._thread.join(timeout=_left(deadline))
            self._thread = None
        for proc in self._procs.values():
            if proc.popen is not None:
                # The child outlives us; its Popen is dropped without a wait on purpose.
                proc.popen.returncode = 0
        if self.ray is not None:
            self.ray.close(timeout_s=_left(deadline))
        held = sorted({k[:2] for k in self._procs} | self._ray_held)
        if held:
            self._hand_back(held, deadline)
        self._procs.clear()
        self._ray_held.clear()
        for key in list(self._zygotes):
            self._close_zygote(key)
        self._http.close()

    def _hand_back(self, held: list[tuple[str, str]], deadline: float) -> None:
        """Release the leases of ``held`` (a restarted server re-adopts them at once), on a
        thread waited for until ``deadline`` at most."""

        def release() -> None:
            for project, name in held:
                try:
                    self.store.claim_deployment(project, name, self.owner, time.time(), 0.0)
                except Exception:
                    log.warning("could not release the lease of %s/%s", project, name)

        thread = threading.Thread(target=release, name="airfoil-deployments-release", daemon=True)
        thread.start()
        thread.join(_left(deadline))
        if thread.is_alive():
            log.warning(
                "stopping: the leases of %d deployments were not handed back in time (the "
                "database does not answer): they run out in %.0f s, and the server that "
                "runs them next takes them over then",
                len(held),
                self.lease_ttl_s,
            )

    def _loop(self) -> None:
        wait = self.interval_s
        while not self._stopping.is_set():
            try:
                self.reconcile()
            except Exception:  # keep supervising; the next pass tries again
                log.exception("supervising deployments failed")
            idle = not (self._any_deployment or self._procs or self._ray_held)
            wait = min(wait * 2, self.idle_interval_s) if idle else self.interval_s
            self._stopping.wait(wait)

    # --- one pass -------------------------------------------------------------------------

    def reconcile(self, now: float | None = None, raise_for: tuple[str, str] | None = None) -> None:
        """One pass: the processes match the deployments this supervisor holds the lease of.
        One that fails is logged and kept as it is; ``raise_for``'s error is raised after."""
        failed: Exception | None = None
        with self._lock:
            wanted: set[_Key] = set()
            others: set[tuple[str, str]] = set()
            deployments = self.store.list_deployments()
            self._any_deployment = any(d.status == "running" for d in deployments)
            for deployment in deployments:
                if deployment.status != "running":
                    continue
                at = now or time.time()
                name = (deployment.project, deployment.name)
                lease = self.store.claim_deployment(*name, self.owner, at, self.lease_ttl_s)
                if lease is None:
                    others.add(name)  # another server runs it
                    continue
                self._started = set()
                self._lease = lease
                try:
                    if deployment.on == "ray":
                        updated = self._reconcile_ray(deployment, at)
                        self._ray_held.add(name)
                    else:
                        updated = self._reconcile_one(deployment, at)
                    updated = msgspec.structs.replace(updated, owner=self.owner)
                    if updated != deployment:
                        # Fenced: refused if the deployment was claimed again (by another server,
                        # or by this one after its lease ran out) while this pass ran. Only
                        # the supervisor's fields are written: a user's deploy meanwhile stays.
                        self.store.put_deployment(
                            msgspec.structs.replace(updated, updated_at=at), lease=lease
                        )
                except DeploymentLeaseLost as exc:
                    self._give_up(name, exc)
                    others.add(name)
                    continue
                except Exception as exc:  # the next pass tries again; its processes are kept
                    log.exception("supervising deployment %s/%s failed", *name)
                    failed = exc if name == raise_for else failed
                    wanted.update(k for k in self._procs if k[:2] == name)
                    continue
                if deployment.on != "ray":
                    wanted.update((updated.project, updated.name, r.index) for r in updated.members)
            self._started = set()
            self._ray_held &= {(d.project, d.name) for d in deployments}
            self._adopting = {k: t for k, t in self._adopting.items() if k in wanted}
            self._drift_at = {k: t for k, t in self._drift_at.items() if k in wanted}
            self._release_unwanted(wanted)
            for zygote_key in [k for k in self._zygotes if k not in {w[:2] for w in wanted}]:
                self._close_zygote(zygote_key)
            for proc_key in [k for k in self._procs if k not in wanted]:
                if proc_key[:2] in others:
                    # Its lease went to another server (this one stalled): that one re-adopts
                    # the processes from the record, so they are left running.
                    self._procs.pop(proc_key)
                else:
                    self._terminate(proc_key)
        if failed is not None:
            raise failed

    def _give_up(self, name: tuple[str, str], exc: DeploymentLeaseLost) -> None:
        """Stop acting on a deployment whose lease went to another server mid-pass: the
        processes this pass started were never recorded (the holder would never know of
        them), so they are terminated; the others are the holder's to re-adopt, left running."""
        log.warning("%s", exc)
        for key in [k for k in self._procs if k[:2] == name]:
            if key in self._started:
                self._terminate(key)
            else:
                self._procs.pop(key)
            self._adopting.pop(key, None)
        self._close_zygote(name)
        self._ray_held.discard(name)
        if self.admission is not None:
            for index in self.admission.held(*name):
                self.admission.release(*name, index)

    def _holds(self, d: Deployment, now: float) -> None:
        """Renew ``d``'s lease before a process of it is started or stopped (or killed), or
        its Ray Serve application deployed or scaled.

        Raises:
            DeploymentLeaseLost: another server holds it now, or held it since the pass
                began (a new epoch: this one claimed it back, its pass's view is stale).
        """
        held = self.store.claim_deployment(d.project, d.name, self.owner, now, self.lease_ttl_s)
        if held != self._lease:
            raise deployment_lease_lost(d.project, d.name, self.owner)

    def _release_unwanted(self, wanted: set[_Key]) -> None:
        """Give back the resources of replicas no deployment of this supervisor has now."""
        if self.admission is None:
            return
        for project, name in {k[:2] for k in self._procs} | {k[:2] for k in wanted}:
            for index in self.admission.held(project, name):
                if (project, name, index) not in wanted:
                    self.admission.release(project, name, index)

    def check_resources(self, project: str, name: str, d: Deployment) -> None:
        """Raise if a replica of ``d`` could never be given what it asks for here.

        Raises:
            UnschedulableTaskError: too much for this machine or the project's quota (a
                process replica), or for any node of the Ray cluster (a Ray replica).
        """
        if d.on == "process" and d.resources is not None and self.admission is not None:
            self.admission.check(project, name, d.resources)
        if d.on == "ray" and d.resources is not None and self.ray is not None:
            self.ray.check(d)

    def stop_deployment(self, project: str, name: str) -> Deployment | None:
        """Terminate a deployment's processes and remove its record; the record as it was."""
        with self._lock:
            found = self.store.get_deployment(project, name)
            if found is not None and found.on == "ray":
                if self.ray is None:
                    raise ConfigError("this server does not run deployments on Ray")
                self.ray.stop(found)
                self.store.delete_deployment(project, name)
                self._ray_held.discard((project, name))
                return found
            for key in [k for k in self._procs if k[:2] == (project, name)]:
                self._terminate(key)
            self._close_zygote((project, name))
            if found is not None:
                for member in found.members:  # adopted ones this process has not seen yet
                    key = (project, name, member.index)
                    # a stuck one (a 503) is ours too: left running, it served on alone
                    if member.pid and health(self._http, member.port, name) is not None:
                        self._procs[key] = _Process(None, member.pid, member.port, 0.0, 0.0)
                        self._terminate(key)
                self.store.delete_deployment(project, name)
            if self.admission is not None:
                for index in self.admission.held(project, name):
                    self.admission.release(project, name, index)
            return found

    def _reconcile_ray(self, d: Deployment, now: float) -> Deployment:
        if self.ray is None:
            return msgspec.structs.replace(d, message="this server does not run deployments on Ray")
        try:
            return self.ray.reconcile(d, now, holds=lambda: self._holds(d, time.time()))
        except DeploymentLeaseLost:
            raise
        except Exception as exc:  # Ray went away, Serve failed: said on the record, retried
            log.exception("supervising %s/%s on Ray failed", d.project, d.name)
            said = exc.public if isinstance(exc, ModelKeyError) else exc  # viewers read it
            return msgspec.structs.replace(d, message=f"Ray Serve: {type(exc).__name__}: {said}")

    def _reconcile_one(self, d: Deployment, now: float) -> Deployment:
        members = {r.index: r for r in d.members}
        for index in range(d.replicas):
            if index not in members:
                members[index] = Replica(index=index, port=free_port(), status="backoff")
        for index in [i for i in members if i >= d.replicas]:  # scaled down
            if (d.project, d.name, index) in self._procs:
                self._holds(d, now)
            self._terminate((d.project, d.name, index))
            if self.admission is not None:
                self.admission.release(d.project, d.name, index)
            del members[index]
        out = [self._reconcile_replica(d, members[i], now) for i in sorted(members)]
        if out and all(r.status == "ready" for r in out):
            self._keep_zygote(d)
        queued = [r.index for r in out if r.status == "queued"]
        messages = [
            f"replica {r.index} was killed, {r.exit_reason}; restarting"
            for r in out
            if r.exit_reason and r.status != "ready"
        ]
        if queued and d.resources is not None:
            messages.append(
                f"waiting for resources: replica {', '.join(map(str, queued))} asks for "
                f"{describe_resources(d.resources)} (airfoil queue shows what holds them)"
            )
        message = "; ".join(messages)
        live = {}
        for r in out:
            report = self._drift_of(d, r)
            if report is not None:
                live[source_of(r)] = report
        drift = served_drift(d.drift, live, running_sources(out))
        return msgspec.structs.replace(d, members=out, message=message, drift=drift)

    def _drift_of(self, d: Deployment, r: Replica) -> dict[str, Any] | None:
        """What a ready replica reports of the rows it served (asked at most every
        ``_DRIFT_EVERY_S``: its record is written only when they changed), or None. A new
        process of the replica (a restart) is asked in the pass that finds it ready, so
        the record that says it is ready counts it in the drift (the drift route reads
        only the record)."""
        key = (d.project, d.name, r.index)
        if r.status != "ready" or key not in self._procs:
            return None
        at, source = time.monotonic(), source_of(r)
        last = self._drift_at.get(key)
        if last is not None and last[0] == source and at - last[1] < _DRIFT_EVERY_S:
            return None
        self._drift_at[key] = (source, at)
        try:
            got = self._http.get(f"http://127.0.0.1:{r.port}/drift", headers=self.env.headers())
            body = got.json() if got.status_code == 200 else None
        except (httpx.HTTPError, ValueError, ConfigError):
            return None
        return body if isinstance(body, dict) else None

    def _wrong_key(self, proc: _Process) -> str | None:
        """Why a replica that answers does not take the server's key now (None: it does, or
        the server has none): it answers without one (started, or re-adopted, from before
        the server's first API key), or it refuses the server's (started with a key the
        server no longer has: ``model.key`` replaced, or another ``AIRFOIL_MODEL_KEY``,
        across a restart that re-adopted it). Asked once per process, by a keyless and a
        keyed ``/metadata`` read (a replica keyed by the server's key answers 401, then
        200)."""
        try:
            key = None if proc.key_checked else self.env.key(KEY_RECHECK_S)
        except ConfigError:  # the key cannot be kept: its replicas' starts say so
            return None
        if not key:
            return None
        proc.key_checked = True
        url = f"http://127.0.0.1:{proc.port}/metadata"
        try:
            answer = probe_key(self._http, url, key)
        except httpx.HTTPError:
            proc.key_checked = False  # asked again next pass
            return None
        if answer == "keyless":
            return "it answered without a key (started before the server had one)"
        if answer == "refused":
            return "it refused the server's key (started with one the server no longer has)"
        return None

    def _reconcile_replica(self, d: Deployment, r: Replica, now: float) -> Replica:
        key = (d.project, d.name, r.index)
        proc = self._procs.get(key)
        if proc is None and r.pid is not None and r.status in ("starting", "ready"):
            # Recorded by an earlier server: adopt it if it still serves this model.
            said = health(self._http, r.port, d.name)
            if said is not None:  # a stuck one too: it is ours (the pass below ends it)
                self._adopting.pop(key, None)
                proc = _Process(None, r.pid, r.port, now, now, cpus=tuple(r.cpus))
                proc.stuck = said.stuck  # still so after the grace: killed, saying so
                self._procs[key] = proc
                self._admit(d, r.index)  # it runs: counted as soon as the queue has room
                log.info("re-adopted replica %s of %s/%s (pid %s)", r.index, *key[:2], r.pid)
            elif pid_alive(r.pid) and now - self._adopting.setdefault(key, now) < _ADOPT_GRACE_S:
                # Its process lives but did not answer in time (a busy machine): asked again
                # next pass. Given up at once, a second process would start beside it.
                return r
            else:  # gone, or silent for the grace: restarted (never signalled: unverified)
                self._adopting.pop(key, None)
                r = exited(r, None, now)
        if proc is None:
            if r.status in ("backoff", "queued") and now >= r.next_start_at:
                gpus = self._admit(d, r.index)
                if gpus is None:
                    return (
                        r if r.status == "queued" else msgspec.structs.replace(r, status="queued")
                    )
                self._holds(d, now)
                return self._spawn(d, r, now, gpus)
            return r
        state = self._exit_code(proc, now)
        if state is None:
            return r  # exited, its code not reported yet: asked again next pass
        running, code = state
        if not running:
            del self._procs[key]
            log.warning("replica %s of %s/%s exited (%s)", r.index, d.project, d.name, code)
            stable = now - proc.started >= _STABLE_S
            return exited(r, code, now, stable, proc.killed_for)
        if d.resources is not None and d.resources.mem > 0 and not proc.killed_for:
            used = tree_rss(proc.pid)
            if used is not None and used > d.resources.mem:
                self._holds(d, now)
                proc.killed_for = (
                    f"out of memory: it used {describe_mib(used)}, over its memory of "
                    f"{describe_mib(d.resources.mem)}"
                )
                log.warning("replica %s of %s/%s killed: %s", r.index, *key[:2], proc.killed_for)
                kill_group(proc.pid)
                return r
        said = health(self._http, proc.port, d.name)
        if said is not None and said.stuck:
            proc.stuck = said.stuck  # it answers, but a prediction hangs: not healthy
            said = None
        version = None if said is None else said.version
        wrong_key = self._wrong_key(proc) if version is not None else None
        if wrong_key is not None:
            self._holds(d, now)
            proc.killed_for = wrong_key
            log.warning("replica %s of %s/%s restarted: %s", r.index, *key[:2], wrong_key)
            kill_group(proc.pid)
            return r
        if version is not None:
            proc.last_answer, proc.stuck = now, ""
            if r.status != "ready" or r.version != version:
                return msgspec.structs.replace(r, status="ready", version=version)
        elif r.status == "ready" and now - proc.last_answer > self.hung_after_s:
            # Running but silent (stopped, deadlocked): killed; the next pass restarts it.
            self._holds(d, now)
            proc.killed_for = proc.silent_for(self.hung_after_s)
            log.warning("replica %s of %s/%s killed: %s", r.index, *key[:2], proc.killed_for)
            signal_pid(proc.pid, signal.SIGKILL)
        return r

    # --- processes ------------------------------------------------------------------------

    def _admit(self, d: Deployment, index: int) -> tuple[str, ...] | None:
        """The GPUs replica ``index`` may start with (``()`` when it asks for none), None
        while the resource queue has no room for it."""
        if d.resources is None or self.admission is None:
            return ()
        return self.admission.admit(d.project, d.name, index, d.resources)

    def _spawn(self, d: Deployment, r: Replica, now: float, gpus: tuple[str, ...] = ()) -> Replica:
        # The same port again (clients keep their address) unless something else holds it.
        port = r.port if r.port and port_free(r.port) else free_port()
        command = [self.python, "-m", "airfoil.cli", "serve", d.ref, "--port", str(port)]
        command += ["--poll", "0.5", "--sample-rate", "0"]
        command += ["--predict-timeout", repr(d.predict_timeout_s)]
        if d.file:
            command += ["--file", d.file]
        os.makedirs(self.env.logs_dir, exist_ok=True)
        label = qualified_name(d.project, d.name)  # team.a's m and team's a.m: two files
        log_path = os.path.join(self.env.logs_dir, f"{label}.{r.index}.log")
        env = self.env.environ(d.project, d.name)
        if d.resources is not None and d.resources.gpu > 0:
            env["CUDA_VISIBLE_DEVICES"] = ",".join(gpus)
        key = (d.project, d.name, r.index)
        cpus: tuple[int, ...] = ()
        if d.resources is not None:
            cpus = pick_cpus(d.resources.cpu, (p.cpus for k, p in self._procs.items() if k != key))
        started = {"port": port, "status": "starting", "started_at": now, "version": None}
        started["cpus"] = list(cpus)
        self._started.add(key)
        forked = self._fork(d, port, env, log_path, cpus)
        if forked is not None:
            self._procs[key] = forked
            return msgspec.structs.replace(r, pid=forked.pid, **started)
        with open(log_path, "ab") as out:
            popen = subprocess.Popen(
                command,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        if cpus:
            try:  # before it imports anything: the threads it starts inherit the CPUs
                os.sched_setaffinity(popen.pid, cpus)
            except OSError:
                pass  # it exited already: seen on the next pass
        self._procs[key] = _Process(popen, popen.pid, port, now, now, cpus=cpus)
        return msgspec.structs.replace(r, pid=popen.pid, **started)

    def _exit_code(self, proc: _Process, now: float) -> tuple[bool, int | None] | None:
        """``(still running, exit code if known)``; None for a forked replica that has
        exited while its zygote has yet to report the code."""
        if proc.popen is not None:
            code = proc.popen.poll()
            return code is None, code
        if proc.zygote is not None:
            exited, code = proc.zygote.exit_code(proc.pid)
            if exited:
                proc.zygote.forget(proc.pid)
                return False, code
            if pid_alive(proc.pid):
                return True, None
            if proc.exited_at is None:
                proc.exited_at = now
            if not proc.zygote.failed and now - proc.exited_at < _EXIT_REPORT_S:
                # Exited: its zygote reaps it and reports the code on its next wake-up, 0.1 s
                # on a quiet machine (a fixed 0.2 s wait here lost the code under load).
                return None
            return False, None
        # Adopted: not our child, so it is watched through /health (and its pid).
        if not pid_alive(proc.pid) or now - proc.last_answer > _ADOPT_GRACE_S:
            if pid_alive(proc.pid):
                proc.killed_for = proc.killed_for or proc.silent_for(_ADOPT_GRACE_S)
                signal_pid(proc.pid, signal.SIGKILL)
            return False, None
        return True, None

    # --- zygotes ---------------------------------------------------------------------------

    def zygote(self, project: str, name: str) -> Zygote | None:
        """The zygote of a deployment, if it has one now (ready or still importing)."""
        return self._zygotes.get((project, name))

    def _fork(
        self,
        d: Deployment,
        port: int,
        env: dict[str, str],
        log_path: str,
        cpus: tuple[int, ...] = (),
    ) -> _Process | None:
        """A replica forked by the deployment's zygote; None if it has no ready one."""
        zygote = self._zygotes.get((d.project, d.name))
        if zygote is None or not zygote.ready or (zygote.ref, zygote.file) != (d.ref, d.file):
            return None
        request = {"ref": d.ref, "port": port, "poll_s": 0.5, "sample_rate": 0.0}
        request["predict_timeout_s"] = d.predict_timeout_s
        request |= {"file": d.file, "env": env, "log": log_path, "cpus": list(cpus)}
        try:
            pid = zygote.spawn(request)
        except ZygoteError as exc:
            log.warning(
                "the zygote of %s/%s did not fork (%s): started cold", d.project, d.name, exc
            )
            self._close_zygote((d.project, d.name))
            return None
        now = time.time()
        return _Process(None, pid, port, now, now, zygote=zygote, cpus=cpus)

    def _keep_zygote(self, d: Deployment) -> None:
        """Have a zygote for ``d`` (started once its replicas all serve, so its imports do
        not compete with theirs; one that failed is tried again a minute later)."""
        if not self.use_zygotes:
            return
        key = (d.project, d.name)
        zygote = self._zygotes.get(key)
        if zygote is not None and (zygote.ref, zygote.file) != (d.ref, d.file):
            self._close_zygote(key)  # redeployed with another reference or file
            zygote = None
        if zygote is not None and zygote.failed:
            log.warning("the zygote of %s/%s failed: %s", *key, zygote.error)
            self._close_zygote(key)
            self._zygote_retry_at[key] = time.monotonic() + 60.0
            return
        if zygote is not None or time.monotonic() < self._zygote_retry_at.get(key, 0.0):
            return
        os.makedirs(self.env.logs_dir, exist_ok=True)
        label = qualified_name(d.project, d.name)
        log_path = os.path.join(self.env.logs_dir, f"{label}.zygote.log")
        try:
            env = self.env.environ(d.project, d.name)
        except ConfigError as exc:  # the model key unusable: its replicas run on
            log.warning("the zygote of %s/%s is not started: %s", *key, exc)
            self._zygote_retry_at[key] = time.monotonic() + 60.0
            return
        self._zygotes[key] = Zygote(self.python, d.ref, d.file, env, log_path)

    def _close_zygote(self, key: tuple[str, str]) -> None:
        zygote = self._zygotes.pop(key, None)
        if zygote is not None:
            zygote.close()

    def _terminate(self, key: _Key, grace_s: float = 5.0) -> None:
        proc = self._procs.pop(key, None)
        if proc is None:
            return
        signal_pid(proc.pid, signal.SIGTERM)
        deadline = time.monotonic() + grace_s
        while time.monotonic() < deadline:
            if proc.popen is not None:
                if proc.popen.poll() is not None:
                    return
            elif not pid_alive(proc.pid):
                return
            time.sleep(0.05)
        signal_pid(proc.pid, signal.SIGKILL)
        if proc.popen is not None:
            proc.popen.wait(timeout=5)
