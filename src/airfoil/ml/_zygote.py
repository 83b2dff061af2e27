"""A pre-imported service process that forks model service replicas (``python -m
airfoil.ml._zygote REF [--file FILE]``), so a restart, a crash recovery or a scale-up skips
the imports that are most of a cold ``airfoil serve`` start.

The zygote imports the service's libraries (:func:`~airfoil.ml._service_process.preload`)
and the file that defines the model (found from the reference's registered version, or
``--file``), says ``{"ready": PID}`` and then forks one child per request. A child runs
:func:`~airfoil.ml._service_process.serve_model` exactly as a cold process would: it opens
the registry, reads and loads the version, builds the app and serves, in a session of its
own with its output appended to the request's log file.

Fork safety (checked before every fork): the zygote runs one thread, holds no store
connection (the registry it reads the model file from is closed before ``ready``), and has
no event loop; a model file that starts a thread when imported makes the zygote refuse
(``{"error": ...}``) and the supervisor starts cold processes instead. When the model file,
or a module of the user's it imported (not a library's: not under site-packages or the
standard library), changed on disk since, the user's modules are imported again before the
next fork, so a replica never runs stale code. A library (a module under a site-packages
directory) cannot be imported again in place (its C extensions, its state): when a library
module the zygote imported changed on disk (a ``pip install -U`` rewrites the files, a new
inode; an edit changes the mtime or size), the zygote re-executes itself before the next fork,
keeping its pid, its pipes, its children and the requests it has not answered (its first
replica then waits one cold start). The check stats each imported library file, a few
milliseconds for scikit-learn, pandas and FastAPI's ~1,600 modules.

Protocol, one JSON object a line: requests on stdin, ``{"spawn": ID, "ref": ..., "port":
..., "poll_s": ..., "sample_rate": ..., "file": ..., "env": {...}, "log": PATH, "cpus":
[...], "deadline": EPOCH_S}``; on stdout ``{"spawned": ID, "pid": PID}`` (or ``"error"``,
also for a request past its deadline: the supervisor gave up on it and started the replica
cold), and ``{"exited": PID, "code": CODE}`` when a child ends (``CODE`` as
:attr:`subprocess.Popen.returncode`: minus the signal that ended it). Anything else the
zygote or the model's file prints goes to stderr. When stdin closes (the supervisor is gone)
the zygote exits and its children keep serving (a new supervisor re-adopts them through
``/health``). A re-executed zygote does not say ``ready`` again; if it fails to start it
says ``{"error": ...}`` as a first start would.
"""

from __future__ import annotations

import argparse
import json
import os
import select
import signal
import sys
import threading
import time
import traceback
from typing import Any, TextIO

__all__ = ["LibraryChanged", "LibraryStamps", "main"]


class LibraryChanged(Exception):
    """A library module the zygote imported changed on disk: it must re-execute."""


_Stamp = tuple[int, int, int] | None


class LibraryStamps:
    """The files of the library modules imported (under a site-packages directory), each
    with its stamp (mtime, size, inode) when recorded."""

    def __init__(self) -> None:
        self._stamps: dict[str, _Stamp] = {}

    def __len__(self) -> int:
        return len(self._stamps)

    def record(self) -> None:
        """Stamp the library modules imported since the last call."""
        roots = _library_roots(stdlib=False)
        for module in list(sys.modules.values()):
            path = getattr(module, "__file__", None)
            if isinstance(path, str) and path not in self._stamps and path.startswith(roots):
                self._stamps[path] = _stamp(path)

    def check(self) -> None:
        """Raise :class:`LibraryChanged` naming the first file that changed on disk (or is
        gone) since it was stamped."""
        for path, stamp in self._stamps.items():
            if _stamp(path) != stamp:
                raise LibraryChanged(f"{path} changed on disk since the zygote imported it")


class _Zygote:
    def __init__(self, ref: str, file: str | None, out: TextIO) -> None:
        from airfoil.ml._registry import parse_ref

        self.ref = parse_ref(ref)
        self.file = file or _model_file(ref)
        self.out = out
        #: The user's modules the model file imported (itself included): name -> (file,
        #: stamp). Libraries (site-packages, the standard library) and Airfoil are not.
        self._code: dict[str, tuple[str, _Stamp]] = {}
        self.libraries = LibraryStamps()
        self._children: set[int] = set()

    def send(self, message: dict[str, Any]) -> None:
        self.out.write(json.dumps(message) + "\n")
        self.out.flush()

    def load(self) -> None:
        """Import the file that defines the model, again (with the user's modules it
        imported) if any of them changed on disk since."""
        from airfoil.ml._serve import find_model

        if self._code and all(_stamp(f) == s for f, s in self._code.values()):
            return
        for name in self._code:  # user code only: libraries keep their modules
            sys.modules.pop(name, None)
        before = set(sys.modules)
        stamp = _stamp(self.file)
        find_model(self.file, self.ref.name)
        module = os.path.splitext(os.path.basename(self.file))[0]
        code = {module: (self.file, stamp)}
        roots = _library_roots()
        for name in set(sys.modules) - before:
            path = getattr(sys.modules[name], "__file__", None)
            if path and _is_user_code(name, path, roots):
                code[name] = (path, _stamp(path))
        self._code = code
        self.libraries.record()

    def check_fork_safe(self) -> None:
        threads = [t.name for t in threading.enumerate() if t is not threading.main_thread()]
        if threads:
            raise RuntimeError(
                f"threads are running in the zygote ({', '.join(threads)}; started by "
                f"{self.file} when imported?): forking now could deadlock the replica"
            )
        torch = sys.modules.get("torch")
        cuda = getattr(torch, "cuda", None)
        if cuda is not None and cuda.is_initialized():
            raise RuntimeError(
                f"CUDA was initialised in the zygote (by {self.file} when imported?): a "
                "forked replica cannot use it"
            )

    def spawn(self, request: dict[str, Any]) -> int:
        self.libraries.check()
        self.load()
        self.check_fork_safe()
        deadline = request.get("deadline")
        if deadline is not None and time.time() > float(deadline):
            # The supervisor stopped waiting (a re-exec or a re-import took longer) and
            # started the replica cold: a fork now would be a second one on its port.
            raise TimeoutError(
                f"the request came {time.time() - float(deadline):.1f} s past its deadline: "
                "not forked"
            )
        sys.stdout.flush()
        sys.stderr.flush()
        pid = os.fork()
        if pid == 0:  # the replica: never returns
            _run_child(request, self.out.fileno())
        self._children.add(pid)
        return pid

    def reap(self) -> None:
        while self._children:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                self._children.clear()
                return
            if pid == 0:
                return
            self._children.discard(pid)
            self.send({"exited": pid, "code": os.waitstatus_to_exitcode(status)})


def _stamp(path: str) -> _Stamp:
    try:
        st = os.stat(path)
    except OSError:
        return None
    return st.st_mtime_ns, st.st_size, st.st_ino


def _library_roots(stdlib: bool = True) -> tuple[str, ...]:
    """The directories whose modules are libraries: the interpreter's standard library (unless
    ``stdlib`` is false: it does not change between an interpreter's starts) and
    site-packages, and any other site-packages or dist-packages directory on ``sys.path`` (a
    ``.pth`` file's, ``PYTHONPATH``'s), each as given and resolved, with a separator."""
    import site
    import sysconfig

    paths = sysconfig.get_paths()
    keys = ("stdlib", "platstdlib", "purelib", "platlib") if stdlib else ("purelib", "platlib")
    dirs = {paths[k] for k in keys if k in paths}
    dirs.update(getattr(site, "getsitepackages", list)())
    dirs.update(
        p
        for p in sys.path
        if os.path.basename(p.rstrip(os.sep)) in ("site-packages", "dist-packages")
    )
    both = {d for path in dirs if path for d in (path, os.path.realpath(path))}
    return tuple(sorted(d.rstrip(os.sep) + os.sep for d in both))


def _is_user_code(name: str, path: str, roots: tuple[str, ...]) -> bool:
    """Whether module ``name`` (at ``path``) is the user's, not a library's (under one of
    ``roots``, :func:`_library_roots`) or Airfoil's."""
    if name == "airfoil" or name.startswith("airfoil."):
        return False
    return not os.path.realpath(path).startswith(roots)


def _model_file(ref: str) -> str:
    """The file recorded when the version ``ref`` names was registered (the registry is
    opened for this and closed again: no connection survives into a fork)."""
    from airfoil.ml._registry import parse_ref
    from airfoil.settings import AirfoilSettings
    from airfoil.store.artifacts import open_artifact_store

    settings = AirfoilSettings()
    parsed = parse_ref(ref)
    store = open_artifact_store(settings.database_url, settings.home)
    try:
        if parsed.alias is not None:
            version = store.resolve(settings.project, parsed.name, parsed.alias)
        else:
            version = store.get_version(settings.project, parsed.name, parsed.version)
    finally:
        store.close()
    return version.metadata.get("model_file", "")


def _run_child(request: dict[str, Any], protocol_fd: int) -> None:
    code = 1
    try:
        os.setsid()  # signals to the supervisor's group do not reach it
        os.close(protocol_fd)
        null = os.open(os.devnull, os.O_RDONLY)
        os.dup2(null, 0)
        os.close(null)
        log = os.open(request["log"], os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
        os.dup2(log, 1)
        os.dup2(log, 2)
        os.close(log)
        for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGCHLD):
            signal.signal(sig, signal.SIG_DFL)
        os.environ.clear()
        os.environ.update(request["env"])
        if request.get("cpus"):
            os.sched_setaffinity(0, request["cpus"])
        from airfoil.ml._service_process import serve_model
        from airfoil.store.deployments import DEFAULT_PREDICT_TIMEOUT_S

        serve_model(
            request["ref"],
            file=request.get("file") or None,
            port=int(request["port"]),
            poll_s=float(request.get("poll_s", 0.5)),
            sample_rate=float(request.get("sample_rate", 0.0)),
            predict_timeout_s=float(request.get("predict_timeout_s", DEFAULT_PREDICT_TIMEOUT_S)),
            announce=lambda line: print(line, flush=True),  # as a cold `airfoil serve` does
        )
        code = 0
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else 1
    except BaseException:
        traceback.print_exc()
    finally:
        try:
            sys.stdout.flush()
            sys.stderr.flush()
        finally:
            os._exit(code)


def _lines(fd: int, buffer: bytearray) -> list[bytes] | None:
    """The complete lines that arrived on ``fd`` (None: it closed)."""
    chunk = os.read(fd, 65536)
    if not chunk:
        return None
    buffer.extend(chunk)
    *lines, rest = bytes(buffer).split(b"\n")
    buffer[:] = rest
    return [line for line in lines if line.strip()]


def _reexec(args: argparse.Namespace, zygote: _Zygote, pending: list[bytes], rest: bytes) -> None:
    """Replace this process with a fresh zygote (same pid, pipes and children) that answers
    the ``pending`` requests first and reads on from ``rest``. Never returns."""
    state = {
        "children": sorted(zygote._children),
        "pending": [line.decode() for line in pending],
        "rest": rest.decode(),
    }
    argv = [sys.executable, "-m", "airfoil.ml._zygote", args.ref, "--resume", json.dumps(state)]
    if args.file:
        argv += ["--file", args.file]
    sys.stderr.flush()
    zygote.out.flush()
    os.dup2(zygote.out.fileno(), 1)  # the protocol is on stdout again, as at the first start
    os.execv(sys.executable, argv)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m airfoil.ml._zygote")
    parser.add_argument("ref")
    parser.add_argument("--file", default=None)
    parser.add_argument("--resume", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    resumed = json.loads(args.resume) if args.resume else None
    # The protocol gets stdout's descriptor; what anything prints goes to stderr from now on.
    out = os.fdopen(os.dup(1), "w", buffering=1)
    os.dup2(2, 1)
    try:
        from airfoil.ml._service_process import preload

        preload()
        zygote = _Zygote(args.ref, args.file, out)
        zygote.load()
        zygote.check_fork_safe()
    except BaseException as exc:
        traceback.print_exc()
        out.write(json.dumps({"error": f"{type(exc).__name__}: {exc}"}) + "\n")
        out.flush()
        return 1
    buffer = bytearray()
    pending: list[bytes] = []
    if resumed is None:
        zygote.send({"ready": os.getpid()})
    else:  # re-executed: the supervisor already knows it ready
        zygote._children.update(int(pid) for pid in resumed["children"])
        pending = [line.encode() for line in resumed["pending"]]
        buffer.extend(resumed["rest"].encode())
        print(f"re-executed: answering {len(pending)} pending request(s)", file=sys.stderr)
    while True:
        if not pending:
            readable, _, _ = select.select([0], [], [], 0.1)
            zygote.reap()
            if not readable:
                continue
            lines = _lines(0, buffer)
            if lines is None:
                return 0  # the supervisor is gone: the children keep serving
            pending = lines
        lines, pending = pending, []
        for i, line in enumerate(lines):
            request = json.loads(line)
            try:
                zygote.send({"spawned": request["spawn"], "pid": zygote.spawn(request)})
            except LibraryChanged as exc:
                print(f"re-executing before the next fork: {exc}", file=sys.stderr)
                _reexec(args, zygote, lines[i:], bytes(buffer))
            except Exception as exc:
                traceback.print_exc()
                zygote.send({"spawned": request["spawn"], "error": f"{type(exc).__name__}: {exc}"})


if __name__ == "__main__":
    sys.exit(main())
