"""The context of a running task: ``current_context()``, and the secrets it carries.

Invariants:

- A secret's value is reachable only by asking for it by name (``secrets["token"]`` or
  ``secrets.get("token")``): the printed forms of :class:`Secrets` and of the context, and
  iterating, show names only, so printing the context or putting it in an error message
  shows no value.
- :func:`scrub` replaces every known secret value (and its escaped forms) in a text; the
  runtime applies it to an attempt's log and error before they are stored.
"""

from __future__ import annotations

import contextvars
import logging
import os
import re
import tempfile
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, NoReturn

if TYPE_CHECKING:
    from airfoil.sdk._checkpoint import Checkpoint
    from airfoil.sdk._report import Report

from airfoil.sdk._metrics import ChunkWriter, MetricRecorder

__all__ = ["REDACTED", "ExecutionContext", "Secrets", "current_context", "scrub"]

#: What a secret's value is replaced with wherever it would be printed or stored.
REDACTED = "***"


class Secrets:
    """The secrets a task asked for (``secret_requests``): a read-only mapping of name to
    value whose values never show in its printed form.

    ``secrets["token"]`` and ``secrets.get("token")`` return the value; ``repr``, ``str``,
    f-strings, iteration, ``keys()`` and ``in`` deal in names only. There is no ``values()``
    or ``items()``: each value is asked for by name, so a value never reaches a log or an
    error message by accident (copy with ``{n: s[n] for n in s}`` if you must).
    """

    __slots__ = ("_dir", "_shared", "_values")

    def __init__(self, values: Mapping[str, str] | Iterable[tuple[str, str]] = ()) -> None:
        self._values: dict[str, str] = dict(values)
        self._dir: str | None = None
        self._shared: dict[str, str] = {}  # path -> this attempt's marker

    def file(self, name: str) -> str:
        """The path of a file holding secret ``name`` (for code that reads a secret from a
        file: a client library's key file, flytekit's ``mount_requirement=FILE``). Written
        on first use into a directory only this user can read (0700, file 0600), removed
        when the attempt ends.

        Raises:
            KeyError: the task has no such secret.
        """
        value = self[name]
        if self._dir is None:
            self._dir = tempfile.mkdtemp(prefix="airfoil-secrets-")
            os.chmod(self._dir, 0o700)
        path = os.path.join(self._dir, re.sub(r"[^A-Za-z0-9._-]", "_", name))
        if not os.path.exists(path):
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w") as f:
                f.write(value)
        return path

    def shared_file(self, name: str, path: str) -> str:
        """Secret ``name`` in the file at ``path``, a fixed path under this user's secrets
        directory (``airfoil.sdk._secret_files.shared_path``: what flytekit's
        ``get_secrets_file`` names), while this attempt runs: attempts running at once share
        it, the last to end removes it. Where it holds another value (the same name's secret
        of another project), a private file (:meth:`file`) instead.

        Raises:
            KeyError: the task has no such secret.
            PermissionError: the secrets directory is not this user's alone.
        """
        value = self[name]
        if path in self._shared:
            return path
        from airfoil.sdk._secret_files import mount

        marker = mount(path, value)
        if marker is None:
            return self.file(name)
        self._shared[path] = marker
        return path

    def close(self) -> None:
        """Remove the files :meth:`file` wrote, and this attempt's hold on shared ones."""
        if self._dir is not None:
            import shutil

            shutil.rmtree(self._dir, ignore_errors=True)
            self._dir = None
        if self._shared:
            from airfoil.sdk._secret_files import unmount

            for path, marker in self._shared.items():
                unmount(path, marker)
            self._shared = {}

    def __getitem__(self, name: str) -> str:
        try:
            return self._values[name]
        except KeyError:
            raise KeyError(
                f"no secret {name!r}: this task has {sorted(self._values) or 'none'}; list the "
                "secret in the task's secret_requests"
            ) from None

    def get(self, name: str, default: str | None = None) -> str | None:
        """The value of secret ``name``, or ``default`` if the task has no such secret."""
        return self._values.get(name, default)

    def __contains__(self, name: object) -> bool:
        return name in self._values

    def __iter__(self) -> Iterator[str]:
        return iter(sorted(self._values))

    def __len__(self) -> int:
        return len(self._values)

    def keys(self) -> list[str]:
        """The names of the secrets (never their values)."""
        return sorted(self._values)

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Secrets):
            return self._values == other._values
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        inner = ", ".join(f"{name!r}: {REDACTED!r}" for name in sorted(self._values))
        return f"Secrets({{{inner}}})"

    __str__ = __repr__

    def __format__(self, spec: str) -> str:
        return format(repr(self), spec)

    def __getstate__(self) -> NoReturn:
        raise TypeError(
            "secrets cannot be pickled or copied into outputs: ask for each value by name"
        )

    def known_values(self) -> list[str]:
        """Every value (for :func:`scrub`)."""
        return list(self._values.values())


def _forms(value: str) -> set[str]:
    """A secret value and the escaped forms it takes in reprs, JSON and HTML (a report's
    markdown, tables and attributes)."""
    import html
    import json

    forms = {value, repr(value)[1:-1], json.dumps(value)[1:-1]}
    forms |= {html.escape(value), html.escape(value, quote=False)}
    forms.add(html.escape(value, quote=False).replace('"', "&quot;"))  # markdown's own
    return {f for f in forms if f}


def scrub(text: str, values: Iterable[str]) -> str:
    """``text`` with every one of ``values`` (and its repr/JSON-escaped forms) replaced by
    :data:`REDACTED`, longest first (so a value containing another is replaced whole)."""
    if not text:
        return text
    forms: set[str] = set()
    for v in values:
        if v:
            forms |= _forms(v)
    for form in sorted(forms, key=len, reverse=True):
        if form in text:
            text = text.replace(form, REDACTED)
    return text


@dataclass(repr=False)
class ExecutionContext:
    """What a running task can know about its run.

    Attributes:
        execution_id: the execution this attempt belongs to.
        node_id: the node being run (``"n0"``, ``"n1.n0"`` inside a subworkflow).
        attempt: 1 for the first try, 2 for the first retry, ...
        task: the task's name.
        logger: a logger whose records go to this attempt's log (made on first use).
        secrets: secrets the task declared in ``secret_requests`` (a :class:`Secrets`:
            ``secrets["name"]`` gives a value; printing it shows names only).
        context: what the driver's hooks sent with this attempt (trace ids; see
            :mod:`airfoil.executors.hooks`).
        metric_writer: where the attempt's metric points are flushed (set by the runtime;
            None outside a task: points stay in this process, see :attr:`metrics`).
        project / domain: the execution's project and domain.
        execution_name: the execution's name in its project and domain (what ``airfoil``
            commands of that project take; its id when the run was given no name).
    """

    execution_id: str
    node_id: str
    attempt: int
    task: str
    secrets: Secrets = field(default_factory=Secrets)
    context: dict[str, str] = field(default_factory=dict)
    log_stream: Any = None
    child_runner: Any = None  # runs a task called from this one as a durable child node
    blobs: Any = None  # the run's blob store (checkpoints)
    metric_writer: ChunkWriter | None = None
    _metrics: MetricRecorder | None = None
    _report: Report | None = None
    checkpoints: Checkpoint | None = None  # this node's checkpoint series (set for training ranks)
    _children: int = 0
    _scratch: str | None = None
    _logger: logging.Logger | None = None
    project: str = "default"
    domain: str = "development"
    execution_name: str = ""

    def __post_init__(self) -> None:
        if not isinstance(self.secrets, Secrets):
            self.secrets = Secrets(self.secrets)
        if not self.execution_name:
            self.execution_name = self.execution_id

    def __repr__(self) -> str:
        return (
            f"ExecutionContext(execution_id={self.execution_id!r}, node_id={self.node_id!r}, "
            f"attempt={self.attempt!r}, task={self.task!r}, secrets={self.secrets!r}, "
            f"context={self.context!r})"
        )

    __str__ = __repr__

    @property
    def logger(self) -> logging.Logger:
        """A logger (``airfoil.task.<task>``, at INFO) whose records go to this attempt's log
        with their level and time, as every ``logging`` record made in a task does."""
        if self._logger is None:
            logger = logging.getLogger(f"airfoil.task.{self.task}")
            if self.log_stream is not None:
                logger.setLevel(logging.INFO)
            self._logger = logger
        return self._logger

    @property
    def metrics(self) -> MetricRecorder:
        """This attempt's metric points (made on first use; outside a task, one recorder
        for the whole process that keeps its points in memory)."""
        if self._metrics is None:
            if self.metric_writer is None and self.execution_id == "local":
                self._metrics = _local_metrics()
            else:
                self._metrics = MetricRecorder(self.metric_writer)
        return self._metrics

    def log_metric(self, name: str, value: float, step: int | None = None) -> None:
        """Record ``value`` of metric ``name`` at ``step`` (default: the metric's last step
        plus one). Stored with the attempt as a time series (``airfoil metrics``)."""
        self.metrics.log(name, value, step)

    def count(self, name: str, n: float = 1) -> None:
        """Add ``n`` to counter ``name``; its running total is stored as a time series."""
        self.metrics.count(name, n)

    @property
    def report(self) -> Report:
        """This attempt's report (made on first use): ``report.markdown(text)``,
        ``.table(df)``, ``.figure(fig)``, ``.html(raw)``. Stored with the attempt when it ends
        and shown by ``airfoil report`` and the console's Report tab."""
        if self._report is None:
            from airfoil.sdk._report import Report

            values = tuple(v for v in self.secrets._values.values() if v)
            # redacted as each part comes in: markdown escapes part of a value (``&`` but
            # not an inline tag), a form the page's own scrub at the attempt's end cannot see
            self._report = Report(self.task, redact=lambda text: scrub(text, values))
        return self._report

    @property
    def checkpoint(self) -> Checkpoint:
        """Save and load this node's checkpoints (:class:`~airfoil.sdk._checkpoint.Checkpoint`):
        step-numbered state kept across the node's attempts and a training gang's restarts.

        Raises:
            ConfigError: the task runs outside a run (a plain call), so there is no blob store.
        """
        if self.checkpoints is None:
            if self.blobs is None:
                from airfoil.core.errors import ConfigError

                raise ConfigError(
                    "this task has no checkpoint store: checkpoints exist inside a task run by "
                    "an executor (a workflow run, or a training task's ranks)"
                )
            from airfoil.sdk._checkpoint import Checkpoint

            self.checkpoints = Checkpoint(
                self.blobs, f"checkpoints/{self.execution_id}/{self.node_id}"
            )
        return self.checkpoints

    def next_child(self) -> int:
        """The order number of the next child call of this attempt."""
        self._children += 1
        return self._children

    @property
    def scratch_dir(self) -> str:
        """A private temporary directory for this attempt, created on first use."""
        if self._scratch is None:
            self._scratch = tempfile.mkdtemp(prefix=f"airfoil-{self.execution_id}-{self.node_id}-")
        return self._scratch

    @property
    def working_directory(self) -> str:
        """Alias of :attr:`scratch_dir` (flytekit's name)."""
        return self.scratch_dir

    def cleanup(self) -> None:
        """Remove the scratch directory and the secrets' files (after the attempt)."""
        self.secrets.close()
        if self._scratch and os.path.isdir(self._scratch):
            import shutil

            shutil.rmtree(self._scratch, ignore_errors=True)


_local: list[MetricRecorder] = []


def _local_metrics() -> MetricRecorder:
    """The process's recorder for metrics logged outside a task (made on first use)."""
    if not _local:
        _local.append(MetricRecorder())
    return _local[0]


class LazyContext:
    """An attempt's context made when something first asks for it (runtime only).

    Most attempts never call :func:`current_context` nor another task, so the runtime
    installs this instead of an :class:`ExecutionContext`: building the context (and its
    child-call runner) costs a few microseconds on every attempt, a tenth of a trivial
    inline one. ``make`` runs at most once, whichever thread asks first; :attr:`ctx` is the
    context made, or None if nothing asked (then the attempt has no metrics, report,
    scratch directory or secret files to tidy up).
    """

    __slots__ = ("_make", "ctx")

    def __init__(self, make: Callable[[], ExecutionContext]) -> None:
        self._make = make
        self.ctx: ExecutionContext | None = None

    def get(self) -> ExecutionContext:
        """The context (made now if nothing asked before)."""
        ctx = self.ctx
        if ctx is None:
            with _MAKE_LOCK:  # two threads of one task asking at once get one context
                ctx = self.ctx
                if ctx is None:
                    ctx = self.ctx = self._make()
        return ctx


_MAKE_LOCK = threading.Lock()

_current: contextvars.ContextVar[ExecutionContext | LazyContext | None] = contextvars.ContextVar(
    "airfoil_execution_context", default=None
)


def running_context() -> ExecutionContext | None:
    """The context of the task attempt running now, or None outside a running task."""
    ctx = _current.get()
    if isinstance(ctx, LazyContext):
        return ctx.get()
    return ctx


def current_context() -> ExecutionContext:
    """The context of the task attempt running now.

    Outside a running task (for example a task function called as plain Python) this is a
    context with execution id ``"local"``.
    """
    ctx = running_context()
    if ctx is None:
        # Not installed: being inside a running task is what the context variable means
        # (a task called while one runs becomes a plain call).
        return ExecutionContext(execution_id="local", node_id="local", attempt=1, task="local")
    return ctx


def in_running_task() -> bool:
    """Whether a task attempt runs in this context (without making its context)."""
    return _current.get() is not None


#: Install a context (runtime only); returns the token that :data:`reset_context` takes.
#: The context variable's own bound method: no Python frame on each attempt.
set_context = _current.set
#: Undo :data:`set_context` (its token).
reset_context = _current.reset
