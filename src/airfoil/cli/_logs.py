"""``airfoil logs``' newer parts: ``-f`` follows a running execution's attempts until it
ends (locally or ``--remote``), and ``--search TEXT`` finds lines across runs (bounded, see
:mod:`airfoil.store._log_search`); ``--level`` filters both by entry level
(:mod:`airfoil.core.log_lines`)."""

from __future__ import annotations

import datetime as dt
import json
import time
from collections.abc import Callable
from typing import Any

from rich.text import Text

from airfoil.cli._common import (
    err_console,
    local_execution,
    out_console,
    plain,
    run_label,
    runtime,
    say_unreadable,
    shown_name,
)
from airfoil.core.errors import NotFoundError

__all__ = ["POLL_S", "follow", "no_such_attempt", "search"]

#: How often a followed log is read again.
POLL_S = 0.5


def no_such_attempt(attempt: int, node: str | None, run: str, have: list[int]) -> NotFoundError:
    """``logs --attempt N`` that names no attempt: the error says which attempts there are."""
    where = f"node {node}" if node is not None else "any node"
    if not have:
        return NotFoundError(f"{where} of execution {run} has started no attempt yet")
    listed = ", ".join(str(n) for n in sorted(set(have)))
    return NotFoundError(
        f"{where} of execution {run} has no attempt {attempt}: its attempts are {listed}"
    )


class _Shown:
    """What of each attempt's log was printed (offsets), and its level filter."""

    def __init__(self, level: str | None, rank: int | None = None) -> None:
        from airfoil.core.log_lines import LevelFilter

        self.level = level
        self.rank = rank
        self.offsets: dict[tuple[str, int], int] = {}
        self.filters: dict[tuple[str, int], Any] = {}
        self._make = LevelFilter

    def show(self, node: str, attempt: int, phase: str, text: str | None) -> None:
        key = (node, attempt)
        if key not in self.offsets:
            of_rank = "" if self.rank is None else f" rank {self.rank}"
            plain(out_console, f"== {node} attempt {attempt}{of_rank} ({phase})", style="bold")
            self.offsets[key] = 0
            if self.level:
                self.filters[key] = self._make(self.level)
        if text is None or len(text) < self.offsets[key]:
            # Nothing, or a read shorter than what was printed: the log between its live
            # copy and its whole text (not found, or being written). Logs only grow, so the
            # next read goes on from the same place; moving back would print lines twice.
            return
        new = text[self.offsets[key] :]
        self.offsets[key] = len(text)
        if key in self.filters:
            new = self.filters[key].feed(new)
        if new:
            out_console.file.write(new)
            out_console.file.flush()


def follow(
    execution_id: str,
    node: str | None,
    level: str | None,
    *,
    rank: int | None = None,
    remote: bool,
    server: str | None,
    project: str | None,
    under: Callable[[str, str | None], bool],
    domain: str | None = None,
) -> None:
    """Print the execution's logs as they grow, until it ends (Ctrl-C stops following);
    ``rank``: a training task's rank's own log instead of its attempts'; ``domain``: the
    one of a name the project uses in several."""
    shown = _Shown(level, rank)
    try:
        if remote:
            _follow_remote(execution_id, node, shown, server, project, under, domain)
        else:
            _follow_local(execution_id, node, shown, under, domain)
    except KeyboardInterrupt:
        err_console.print("stopped following (the execution goes on)")


def _follow_local(
    execution_id: str,
    node: str | None,
    shown: _Shown,
    under: Callable[[str, str | None], bool],
    domain: str | None,
) -> None:
    from airfoil.executors.base import attempt_log_text

    rt = runtime()
    execution_id = local_execution(rt, execution_id, domain)  # NotFoundError: unknown
    if node is not None and not rt.meta.get_attempts(execution_id, node):
        rt.meta.get_node(execution_id, node)  # NotFoundError for an id that is no node
    while True:
        record = rt.meta.get_execution(execution_id)  # read before the logs: the last pass
        for a in rt.meta.get_attempts(execution_id):  # sees everything written before the end
            if not under(a.node_id, node):
                continue
            text = attempt_log_text(
                rt.blobs, execution_id, a.node_id, a.attempt, a.log_uri, shown.rank
            )
            shown.show(a.node_id, a.attempt, a.phase, text)
        if _ended(record.phase):
            plain(err_console, f"execution {shown_name(record)} {record.phase}")
            return
        time.sleep(POLL_S)


def _ended(phase: str) -> bool:
    from airfoil.core.phases import ExecutionPhase

    return ExecutionPhase(phase).terminal


def _follow_remote(
    execution_id: str,
    node: str | None,
    shown: _Shown,
    server: str | None,
    project: str | None,
    under: Callable[[str, str | None], bool],
    domain: str | None,
) -> None:
    from airfoil.cli._remote import _client, remote_detail
    from airfoil.core.errors import NotFoundError

    with _client(server, project) as client:
        eid = remote_detail(client, execution_id, domain).id  # then by its id: this run
        while True:
            detail = client.get(eid)
            if node is not None and not any(under(n.id, node) for n in detail.nodes):
                raise NotFoundError(f"node {node!r} of execution {execution_id!r} does not exist")
            for n in detail.nodes:
                if not under(n.id, node):
                    continue
                for a in n.attempt_list:
                    try:
                        text: str | None = client.logs(
                            eid, n.id, attempt=a.attempt, rank=shown.rank
                        ).text
                    except NotFoundError:
                        text = None
                    shown.show(n.id, a.attempt, a.phase, text)
            if _ended(detail.phase):
                shown_as = run_label(detail.name or detail.id, detail.domain, client.domain)
                plain(err_console, f"execution {shown_as} {detail.phase}")
                return
            time.sleep(POLL_S)


def search(
    text: str,
    *,
    since: float | None,
    runs: int,
    limit: int,
    level: str | None,
    as_json: bool,
    remote: bool,
    server: str | None,
    project: str | None,
) -> None:
    """Print the log lines across runs that contain ``text`` (``--level``: of entries at
    that level or above, filtered while searching so ``limit`` counts only those)."""
    if remote:
        from airfoil.cli._remote import _client

        with _client(server, project) as client:
            found_remote = client.search_logs(
                text, since=since, runs=runs, limit=limit, level=level
            )
            data = found_remote.model_dump(mode="json")
            home = client.domain
    else:
        import msgspec

        from airfoil.store._log_search import search_logs

        rt = runtime()
        found = search_logs(
            rt.meta,
            rt.blobs,
            project or rt.settings.project,
            text,
            since=since,
            runs=runs,
            limit=limit,
            level=level,
        )
        data = {"text": text, **msgspec.to_builtins(found)}
        home = rt.settings.domain
    for u in data.get("unreadable", []):  # passed over: the rest was searched
        say_unreadable(u)
    if as_json:
        out_console.print_json(json.dumps(data))
        return
    for m in data["matches"]:
        run = run_label(m.get("name") or m["execution_id"], m.get("domain", ""), home)
        line = Text(f"{run} {m['node_id']} #{m['attempt']} ", style="bold")
        line.append(f"{m['at'] or '-'} {m['level']:<8} ", style="dim")
        line.append(m["line"])
        out_console.print(line, soft_wrap=True, highlight=False)
    window = ""
    if since is not None:
        window = f" since {dt.datetime.fromtimestamp(since):%Y-%m-%d %H:%M}"
    note = (
        f"{len(data['matches'])} lines in {data['logs']} logs of the newest {data['runs']} "
        f"runs{window}"
    )
    if data["skipped"]:
        note += f"; {data['skipped']} logs too large to read"
    if not data["complete"]:
        note += " (stopped at a bound: --runs or --limit for more)"
    out_console.file.flush()  # the matches before the summary, on a terminal too
    plain(err_console, note)
