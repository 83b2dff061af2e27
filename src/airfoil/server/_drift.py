"""The drift a deployment's replicas served, kept on its record.

A replica's drift statistics (:class:`~airfoil.ml._serve.DriftTracker`) live in its process:
a replica that restarts starts again from no rows, and a server that restarts (or a Ray
backend still connecting) has no replica to ask at first. So the supervisor copies what each
ready replica reports onto the deployment's record (:attr:`Deployment.drift`, one
:class:`ServedDrift` per replica process, at most every second; on Ray what each replica
published), and the drift route pools what is recorded: it asks no replica, so what it
answers is up to about a second old. Invariants:

- one entry per live replica process (its newest report) and one per version for the rows
  of every ended process of that version, pooled exactly (counts, means and variances
  combined), so the record stays small however often replicas restart;
- the pooled statistics of rows split across reports equal one tracker's over all of them.
"""

from __future__ import annotations

import math
from collections.abc import Collection, Mapping
from typing import Any

from airfoil.store.deployments import Replica, ServedDrift

__all__ = ["pool_reports", "running_sources", "served_drift", "source_of"]


def source_of(r: Replica) -> str:
    """The process a replica is now, as a drift entry's source (``INDEX:PID``, on Ray the
    Serve replica's id)."""
    return r.ident or f"{r.index}:{r.pid}"


def running_sources(members: list[Replica]) -> set[str]:
    """The sources of the replicas that have a process now."""
    return {source_of(r) for r in members if r.ident or r.pid is not None}


def _pooled_std(seen: list[tuple[float, dict[str, Any]]], mean: float, total: float) -> float:
    """The standard deviation of parts' rows pooled: each part's variance plus its mean's
    squared distance from the pooled mean, weighted by its rows (not ``E[x**2] - mean**2``,
    which loses every digit of the spread of a feature far from zero), scaled by the
    largest term so that huge values do not overflow."""
    if not total:
        return 0.0
    terms = [(k, float(s["std"]), float(s["mean"]) - mean) for k, s in seen if k]
    c = max((max(abs(sd), abs(dm)) for _, sd, dm in terms), default=0.0)
    if not c:
        return 0.0
    var = sum(k * ((sd / c) ** 2 + (dm / c) ** 2) for k, sd, dm in terms) / total
    return c * math.sqrt(var)


def pool_reports(reports: list[dict[str, Any]]) -> dict[str, Any]:
    """Drift reports (``rows``, ``features``) of one version pooled exactly into one."""
    rows = sum(int(r.get("rows", 0)) for r in reports)
    features: dict[str, Any] = {}
    names = list(reports[0]["features"]) if reports else []
    for feature in names:
        parts = [(int(r.get("rows", 0)), r["features"][feature]) for r in reports]
        training = parts[0][1]["training"]
        seen = [(n * (1 - p["serving"]["missing_rate"]), p["serving"]) for n, p in parts]
        total = sum(k for k, _ in seen)
        mean = sum(k * s["mean"] for k, s in seen) / total if total else 0.0
        std = _pooled_std(seen, mean, total)
        missing = sum(n * p["serving"]["missing_rate"] for n, p in parts) / rows if rows else 0
        t_std = training["std"]
        shift: float | None = 0.0
        if total and t_std > 0:
            shift = abs(mean - training["mean"]) / t_std
        elif total and mean != training["mean"]:
            shift = None  # constant in training, not now: drifted past any measure (was 0)
        features[feature] = {
            "training": training,
            "serving": {"mean": mean, "std": std, "missing_rate": missing},
            "mean_shift_in_std": shift,
        }
    return {"rows": rows, "features": features}


def served_drift(
    kept: list[ServedDrift], live: Mapping[str, dict[str, Any]], running: Collection[str]
) -> list[ServedDrift]:
    """``kept`` brought up to date: each ``live`` report (by source, with its ``version``)
    replaces its source's entry, and the entries of sources no longer ``running`` are pooled
    into their version's entry of ended processes (source ``""``)."""
    current = {(e.source, e.version): e for e in kept}
    for source, report in live.items():
        version = int(report.get("version") or 0)
        body = {k: v for k, v in report.items() if k != "version"}
        for key in [k for k in current if k[0] == source]:
            if key[1] != version:  # the process swapped versions: its old rows stay, ended
                current[("~" + source, key[1])] = current.pop(key)
        current[(source, version)] = ServedDrift(source=source, version=version, report=body)
    ended: dict[int, list[dict[str, Any]]] = {}
    out: list[ServedDrift] = []
    for (source, version), entry in current.items():
        if source and source in running:
            out.append(entry)
        else:
            ended.setdefault(version, []).append(entry.report)
    for version, reports in ended.items():
        pooled = reports[0] if len(reports) == 1 else pool_reports(reports)
        out.append(ServedDrift(source="", version=version, report=pooled))
    return sorted(out, key=lambda e: (e.version, e.source))
