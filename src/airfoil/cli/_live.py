"""The live view of a running execution, drawn off the engine's thread.

The engine calls :meth:`LiveView.update` after each committed batch; that only keeps a
reference to the run state (no rendering, no I/O), so the view costs the engine nothing
measurable. Rich's own refresh thread draws the latest state a few times a second, so the
view is never stale: a node that finished just before a gate started waiting shows as
finished, the gate's ``airfoil signal ...`` command appears, and durations tick while
nothing changes.

A graph whose table fits the terminal is drawn as the node table; a bigger one as a compact
summary (a progress bar, counts per phase, what runs now, recent failures, gates waiting
with the command that answers them), so no row is ever cut at the terminal's bottom.
"""

from __future__ import annotations

import time
from collections import Counter
from typing import Any

from rich.console import Console, ConsoleOptions, Group, RenderableType
from rich.live import Live
from rich.progress_bar import ProgressBar
from rich.text import Text

from airfoil.cli._render import gates_waiting, node_table, sort_nodes
from airfoil.cli._table import Table

__all__ = ["LiveView", "gates_waiting", "render_state"]

REFRESH_PER_SECOND = 4
_FINISHED = ("succeeded", "skipped", "failed", "aborted")
_PHASE_ORDER = ("succeeded", "running", "queued", "retrying", "pending", "failed", "skipped")


def _summary(
    title: str, state: Any, records: dict[str, Any], width: int, height: int, gates: list[str]
) -> Group:
    """The compact view of a big graph, at most ``height`` lines."""
    nodes = list(records.values())
    counts = Counter(n.phase for n in nodes)
    items = Counter[str]()
    for n in nodes:  # a map's items count as tasks of the run
        for phase, k in (n.map_counts or {}).items():
            items[phase] += k
    total = len(nodes)
    done = sum(counts[p] for p in _FINISHED)
    head = Text.assemble(
        (title, "bold"), f"  [{state.execution.phase}]  {done}/{total} nodes finished"
    )
    bar = Table.grid(padding=(0, 1))
    bar.add_row(
        ProgressBar(total=max(total, 1), completed=done, width=max(10, min(60, width - 30))),
        Text(f"{100 * done / max(total, 1):.0f}%"),
    )
    phases = Text("  ".join(f"{p} {counts[p]}" for p in _PHASE_ORDER if counts[p]))
    for p in sorted(set(counts) - set(_PHASE_ORDER)):
        phases.append(f"  {p} {counts[p]}")
    lines: list[RenderableType] = [head, bar, phases]
    if items:
        lines.append(Text("map items: " + "  ".join(f"{p} {k}" for p, k in sorted(items.items()))))
    budget = max(0, height - len(lines) - 1)
    for g in gates[:budget]:
        lines.append(Text(g, style="bold yellow"))
    budget -= min(len(gates), budget)
    failed = [n for n in nodes if n.phase == "failed"]
    failed.sort(key=lambda n: n.ended_at or 0, reverse=True)
    if failed and budget > 1:
        lines.append(Text("recent failures:", style="bold red"))
        budget -= 1
        for n in failed[: min(3, budget)]:
            msg = f"{n.error.type}: {n.error.message}" if n.error else ""
            lines.append(Text(f"  {n.node_id} {_short(n.task)}  {msg}"[:width], style="red"))
            budget -= 1
    running = [n for n in nodes if n.phase in ("running", "retrying") and n.kind != "gate"]
    if running and budget > 1:
        lines.append(Text(f"running now ({len(running)}):", style="bold blue"))
        budget -= 1
        now = time.time()
        shown = sort_nodes(running)[: budget if len(running) <= budget else budget - 1]
        for n in shown:
            took = f"{now - n.started_at:.1f}s" if n.started_at else ""
            lines.append(Text(f"  {n.node_id} {_short(n.task)} {took}"[:width]))
        if len(running) > len(shown):
            lines.append(Text(f"  ... and {len(running) - len(shown)} more", style="dim"))
    return Group(*lines)


def _short(task: str) -> str:
    return task.rsplit(".", 1)[-1]


def render_state(title: str, state: Any, width: int, height: int, home: str = "") -> RenderableType:
    """The node table when it fits ``height`` lines, else the compact summary (``home``:
    the caller's domain, see :func:`gates_waiting`)."""
    # One C-level copy: safe against the engine thread adding nodes (dynamic, map) meanwhile.
    records = dict(state.records)
    gates = gates_waiting(state, records, home)
    # A table takes 4 lines of frame and header, a line per node, a line per waiting gate.
    if len(records) + len(gates) + 5 <= height:
        done = sum(1 for n in records.values() if n.phase in _FINISHED)
        return node_table(
            sort_nodes(list(records.values())),
            f"{title}  [{state.execution.phase}]  {done}/{len(records)} finished",
            caption="\n".join(gates),
        )
    return _summary(title, state, records, width, height, gates)


class _Renderable:
    """What Rich's refresh thread draws: the latest state, rendered at draw time."""

    def __init__(self, view: LiveView) -> None:
        self.view = view

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> Any:
        state = self.view.state
        if state is None:
            yield Text(f"{self.view.title}: starting", style="dim")
            return
        height = max(5, (options.height or console.size.height) - 1)
        yield render_state(self.view.title, state, options.max_width, height, self.view.home)


class LiveView:
    """A live view of an execution; pass :meth:`update` as the engine's ``on_change``."""

    def __init__(self, console: Console, title: str, home: str) -> None:
        """``home``: the caller's domain (``AIRFOIL_DOMAIN``: see :func:`gates_waiting`)."""
        self.console = console
        self.title = title
        self.home = home
        self.state: Any = None
        self._live = Live(
            _Renderable(self),
            console=console,
            refresh_per_second=REFRESH_PER_SECOND,
            transient=False,
            vertical_overflow="crop",
        )

    def __enter__(self) -> LiveView:
        self._live.__enter__()
        return self

    def __exit__(self, *exc: Any) -> None:
        self._live.__exit__(*exc)  # draws the final state once more

    def update(self, state: Any) -> None:
        """Called on the engine's thread: remember the state, draw nothing."""
        self.state = state
