"""What the tasks of a local ``airfoil run`` print, shown in the terminal as it happens.

Each line a task writes goes to its attempt's log (``airfoil logs``), and is shown here too,
prefixed by its node: ``[n1 train] epoch 3 loss 0.12``. A gate that waits for a signal is
announced once, with the ``airfoil signal`` command that answers it.

Nothing of this runs on the engine's thread: :meth:`OutputEcho.update` (the engine's
``on_change``) only keeps a reference to the run state, and a background thread reads the
logs from the blob store a few times a second -- the running copy an attempt's log has while
it runs (``live_log_key``) and the whole log once it has ended -- printing only what it has
not printed yet. So worker processes' output is shown as well as inline attempts'.
Map items' output stays in their logs (``airfoil logs``), to keep big maps quiet.
"""

from __future__ import annotations

import threading
from typing import Any

from rich.console import Console
from rich.text import Text

from airfoil.cli._render import gates_waiting
from airfoil.core.blobs import BlobStore
from airfoil.core.errors import NotFoundError
from airfoil.core.log_lines import split_head, without_traceback
from airfoil.executors.base import attempt_log_key, live_log_key

__all__ = ["OutputEcho", "chain"]

POLL_S = 0.25
_ENDED = ("succeeded", "failed", "aborted")


def chain(*callbacks: Any) -> Any:
    """One ``on_change`` calling each given callback (None ones left out)."""
    found = [c for c in callbacks if c is not None]

    def call(state: Any) -> None:
        for c in found:
            c(state)

    return call if found else None


class OutputEcho:
    """Prints the attempts' output of one execution while it runs (use as a context)."""

    def __init__(
        self,
        console: Console,
        blobs: BlobStore,
        execution_id: str,
        since: float = 0.0,
        home: str = "",
    ) -> None:
        """``since``: attempts that ended before it are not shown (a resumed execution's);
        ``home``: the caller's domain (``AIRFOIL_DOMAIN``: see :func:`gates_waiting`)."""
        self.home = home
        self.console = console
        self.since = since
        self.blobs = blobs
        self.execution_id = execution_id
        self.state: Any = None
        self._shown: dict[tuple[str, int], int] = {}  # attempt -> characters printed
        self._partial: dict[tuple[str, int], str] = {}  # an unfinished last line
        self._levels: dict[tuple[str, int], str] = {}  # the level of the entry being shown
        self._done: set[tuple[str, int]] = set()
        self._gates: set[str] = set()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="airfoil-echo", daemon=True)

    def update(self, state: Any) -> None:
        """Called on the engine's thread: remember the state, do nothing else."""
        self.state = state

    def __enter__(self) -> OutputEcho:
        self._thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        self.poll(final=True)

    def _loop(self) -> None:
        while not self._stop.wait(POLL_S):
            try:
                self.poll()
            except Exception:  # showing output is best effort; the run goes on
                continue

    def poll(self, final: bool = False) -> None:
        """Print what the attempts wrote since the last call (``final``: flush all)."""
        state = self.state
        if state is None:
            return
        attempts = dict(state.attempts)
        records = dict(state.records)
        ended = []
        for key, att in attempts.items():
            if key in self._done:
                continue
            if att.phase in _ENDED:
                if (att.ended_at or 0.0) < self.since:
                    self._done.add(key)
                    continue
                ended.append((att.ended_at or 0.0, key, att))
            else:
                self._show_running(key, records)
        for _, key, att in sorted(ended, key=lambda e: e[0]):
            self._show_ended(key, att, records)
        for line in gates_waiting(state, records, self.home):
            if line not in self._gates:
                self._gates.add(line)
                self._print(Text(f"waiting: {line}", style="bold yellow"))
        if final:  # attempts still running when the drive stopped (Ctrl-C)
            for key in list(self._partial):
                self._emit(key, "\n", records)

    def _read(self, key: str) -> str | None:
        try:
            return self.blobs.get_bytes(self.blobs.uri(key)).decode("utf-8", "replace")
        except NotFoundError:
            return None

    def _show_running(self, key: tuple[str, int], records: dict[str, Any]) -> None:
        text = self._read(live_log_key(attempt_log_key(self.execution_id, *key)))
        if text is not None:
            self._emit(key, text[self._shown.get(key, 0) :], records)
            self._shown[key] = len(text)

    def _show_ended(self, key: tuple[str, int], att: Any, records: dict[str, Any]) -> None:
        self._done.add(key)
        text = self._read(attempt_log_key(self.execution_id, *key)) if att.log_uri else ""
        text = text or ""
        trace = att.error.traceback if att.error is not None else ""
        if trace:  # the failure is printed with the run's error
            text = without_traceback(text, trace)
        new = text[self._shown.get(key, 0) :]
        if not new.endswith("\n") and (new or key in self._partial):
            new += "\n"  # the end of the attempt ends its last line
        self._emit(key, new, records)
        self._shown[key] = len(text)

    def _emit(self, key: tuple[str, int], text: str, records: dict[str, Any]) -> None:
        text = self._partial.pop(key, "") + text
        *lines, rest = text.split("\n")
        if rest:
            self._partial[key] = rest
        if not lines or (len(lines) == 1 and not lines[0]):
            return
        nid, attempt = key
        rec = records.get(nid)
        task = (rec.task if rec is not None else "").rsplit(".", 1)[-1]
        prefix = f"[{nid} {task}" + (f" #{attempt}]" if attempt > 1 else "]")
        for line in lines:
            head = split_head(line)
            if head is not None:
                self._levels[key] = head[1]
                line = head[2]
            level = self._levels.get(key, "OUT")
            if level in ("OUT", "ERR") or head is None:  # printed, or a record's next line
                self._print(Text.assemble((prefix, "cyan"), " ", line))
            else:  # a logging record: its level, as a logger would show it
                self._print(Text.assemble((prefix, "cyan"), " ", (level, "dim"), " ", line))

    def _print(self, text: Text) -> None:
        self.console.print(text, soft_wrap=True, highlight=False)
