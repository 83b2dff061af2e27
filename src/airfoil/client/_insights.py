"""What a :class:`~airfoil.client.Client` reads about runs after the fact, to diagnose and
compare them: a node's logs, metrics, report and cache explanation; failures grouped by
signature; a task's history and an execution's anomalies; log search across runs; two
executions compared; a workflow's runs table; the cluster's state. The CLI's ``--remote``
commands are built on these."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from typing import Any

from airfoil.client._base import ClientBase, _in
from airfoil.core.reports import CHUNK_BYTES, REPORT_DAMAGE_HEADER, NodeReport, copy_report
from airfoil.wire import (
    API_PREFIX,
    CacheExplanation,
    ClusterOut,
    ComparisonOut,
    EventList,
    EventOut,
    FailureGroupList,
    FailureList,
    LogOut,
    MetricsOut,
    RunsTableOut,
)
from airfoil.wire._history import AnomalyList, LogSearchOut, TaskStatsOut

__all__ = ["Insights"]


class Insights(ClientBase):
    """The read-only diagnostic queries of a client (its base: :class:`ClientBase`)."""

    def logs(
        self,
        execution_id: str,
        node_id: str,
        *,
        attempt: int | None = None,
        rank: int | None = None,
        project: str | None = None,
        level: str | None = None,
        domain: str | None = None,
    ) -> LogOut:
        """A node's attempt's log (its last by default; ``level``: entries at it or above;
        ``rank``: that rank's own log of a training attempt instead)."""
        params: dict[str, object] = {
            k: v for k, v in (("attempt", attempt), ("rank", rank)) if v is not None
        }
        params |= _in(domain)
        if level:
            params["level"] = level
        r = self._call(
            "GET",
            f"/projects/{self._p(project)}/executions/{execution_id}/nodes/{node_id}/logs",
            params=params,
        )
        return LogOut.model_validate(r.json())

    def events(
        self,
        execution_id: str,
        *,
        after: int = 0,
        page: int = 1000,
        project: str | None = None,
        domain: str | None = None,
    ) -> Iterator[EventOut]:
        """The execution's event log after seq ``after`` as it stands now, read ``page``
        events a request (the server's pages: ``next_after`` to the next) until its end.
        :meth:`~airfoil.client.Client.watch` waits for those still to come."""
        path = f"/projects/{self._p(project)}/executions/{execution_id}/events"
        cursor: int | None = after
        while cursor is not None:
            params = {"after": cursor, "limit": page} | _in(domain)
            got = EventList.model_validate_json(self._call("GET", path, params=params).content)
            yield from got.items
            cursor = got.next_after

    def metrics(
        self,
        execution_id: str,
        node_id: str | None = None,
        *,
        name: str | None = None,
        project: str | None = None,
        domain: str | None = None,
    ) -> MetricsOut:
        """The metric series an execution's tasks logged (``airfoil metrics --remote``)."""
        params = {k: v for k, v in (("node", node_id), ("name", name)) if v is not None}
        params |= _in(domain)
        r = self._call(
            "GET", f"/projects/{self._p(project)}/executions/{execution_id}/metrics", params=params
        )
        return MetricsOut.model_validate(r.json())

    def report(
        self,
        execution_id: str,
        node_id: str,
        *,
        project: str | None = None,
        domain: str | None = None,
    ) -> NodeReport:
        """The report of a node (its newest attempt that wrote one): its ``attempt``,
        ``html`` and ``damage``, what of it could not be read (its blob is damaged or was
        changed by hand: the rest is ``html``, those bytes shown as U+FFFD), or None
        (``airfoil report --remote``)."""
        from urllib.parse import unquote

        path = f"/projects/{self._p(project)}/executions/{execution_id}/nodes/{node_id}/report"
        r = self._call("GET", path, params=_in(domain))
        damage = r.headers.get(REPORT_DAMAGE_HEADER)
        attempt = int(r.headers.get("X-Airfoil-Attempt", "0"))
        return NodeReport(attempt, r.text, None if damage is None else unquote(damage))

    def download_report(
        self,
        execution_id: str,
        node_id: str,
        write: Callable[[bytes], object],
        *,
        project: str | None = None,
        domain: str | None = None,
    ) -> tuple[int, str | None]:
        """Stream a node's report whole (:meth:`report` holds 32 MiB at most) to ``write``,
        bytes that are not UTF-8 as U+FFFD; return its attempt and damage, as report's."""
        path = f"{API_PREFIX}/projects/{self._p(project)}/executions/{execution_id}"
        params = {**_in(domain), "whole": "true"}
        with self._http.stream("GET", f"{path}/nodes/{node_id}/report", params=params) as r:
            if r.status_code >= 400:
                r.read()
                self._raise(r)
            attempt = int(r.headers.get("X-Airfoil-Attempt", "0"))
            return attempt, copy_report(r.iter_bytes(CHUNK_BYTES), write)

    def cluster(self) -> ClusterOut:
        """The cluster's nodes, what runs where, and the admission queue with reasons
        (``airfoil nodes --remote``, ``airfoil queue --remote``)."""
        return ClusterOut.model_validate(self._call("GET", "/cluster").json())

    def failure_groups(
        self,
        *,
        since: float | None = None,
        task: str | None = None,
        limit: int = 100,
        project: str | None = None,
    ) -> FailureGroupList:
        """Failed attempts grouped by signature (``airfoil failures --remote``)."""
        params: dict[str, object] = {"limit": limit}
        if since is not None:
            params["since"] = since
        if task is not None:
            params["task"] = task
        r = self._call("GET", f"/projects/{self._p(project)}/failures", params=params)
        return FailureGroupList.model_validate(r.json())

    def failures(
        self,
        signature: str,
        *,
        since: float | None = None,
        limit: int = 100,
        project: str | None = None,
    ) -> FailureList:
        """The failed attempts of one group, newest first."""
        params: dict[str, object] = {"limit": limit}
        if since is not None:
            params["since"] = since
        r = self._call("GET", f"/projects/{self._p(project)}/failures/{signature}", params=params)
        return FailureList.model_validate(r.json())

    def task_stats(
        self,
        task: str,
        *,
        version: str | None = None,
        last: int | None = None,
        project: str | None = None,
    ) -> TaskStatsOut:
        """A task version's history (``airfoil tasks stats --remote``)."""
        from urllib.parse import quote

        params: dict[str, object] = {}
        if version is not None:
            params["version"] = version
        if last is not None:
            params["last"] = last
        path = f"/projects/{self._p(project)}/tasks/{quote(task, safe='')}/stats"
        return TaskStatsOut.model_validate(self._call("GET", path, params=params).json())

    def anomalies(
        self,
        execution_id: str,
        *,
        k: float | None = None,
        min_history: int | None = None,
        last: int | None = None,
        project: str | None = None,
        domain: str | None = None,
    ) -> AnomalyList:
        """An execution's attempts far from their history (``executions show --remote``);
        the rule's parts not given are the server's settings."""
        given = {"k": k, "min_history": min_history, "last": last}
        params = {name: v for name, v in given.items() if v is not None} | _in(domain)
        path = f"/projects/{self._p(project)}/executions/{execution_id}/anomalies"
        return AnomalyList.model_validate(self._call("GET", path, params=params).json())

    def search_logs(
        self,
        text: str,
        *,
        since: float | None = None,
        runs: int = 200,
        limit: int = 100,
        project: str | None = None,
        level: str | None = None,
    ) -> LogSearchOut:
        """Log lines containing ``text`` across runs (``airfoil logs --search --remote``),
        of entries at ``level`` or above if given."""
        params: dict[str, object] = {"text": text, "runs": runs, "limit": limit}
        if level:
            params["level"] = level
        if since is not None:
            params["since"] = since
        r = self._call("GET", f"/projects/{self._p(project)}/logs/search", params=params)
        return LogSearchOut.model_validate(r.json())

    def compare(
        self,
        a: str,
        b: str,
        *,
        project: str | None = None,
        domain_a: str | None = None,
        domain_b: str | None = None,
    ) -> ComparisonOut:
        """Two executions side by side (``airfoil compare --remote``); ``domain_a`` /
        ``domain_b``: the domain of a side's name the project uses in several."""
        params = {"a": a, "b": b} | _in(domain_a, "domain_a") | _in(domain_b, "domain_b")
        r = self._call("GET", f"/projects/{self._p(project)}/compare", params=params)
        return ComparisonOut.model_validate(r.json())

    def runs(
        self,
        workflow: str,
        *,
        last: int = 50,
        metrics: Sequence[str] | None = None,
        inputs: Sequence[str] | None = None,
        sort: str = "-started",
        phase: str | None = None,
        project: str | None = None,
        offset: int = 0,
        where: Sequence[str] | None = None,
        domain: str | None = None,
    ) -> RunsTableOut:
        """Runs of a workflow with their inputs and metric summaries (``airfoil runs``): the
        page from ``offset`` (``next_offset`` of the answer continues), of the runs passing
        every ``where`` filter (of every domain, each row with its own; ``domain``: one's)."""
        from urllib.parse import quote

        params: dict[str, Any] = {"last": last, "sort": sort}
        if metrics is not None:
            params["metric"] = list(metrics)
        if inputs is not None:
            params["input"] = list(inputs)
        if phase is not None:
            params["phase"] = phase
        if offset:
            params["offset"] = offset
        if where:
            params["where"] = list(where)
        params |= _in(domain)
        r = self._call(
            "GET",
            f"/projects/{self._p(project)}/workflows/{quote(workflow, safe='')}/runs",
            params=params,
        )
        return RunsTableOut.model_validate(r.json())

    def cache_explanation(
        self,
        execution_id: str,
        node_id: str,
        *,
        project: str | None = None,
        domain: str | None = None,
    ) -> CacheExplanation:
        """Why a node did or did not hit the cache (``airfoil cache explain --remote``)."""
        path = f"/projects/{self._p(project)}/executions/{execution_id}/nodes/{node_id}/cache"
        r = self._call("GET", path, params=_in(domain))
        return CacheExplanation.model_validate(r.json())
