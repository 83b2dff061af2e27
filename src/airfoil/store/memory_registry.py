"""The registry store in memory: for tests, and embedded use that needs no database.

Invariant: one lock guards every call, so a batch registers all at once or not at all.
"""

from __future__ import annotations

import threading
import time
from typing import TypeVar

from airfoil.store.registry import (
    EntityRow,
    LaunchPlanRow,
    RegistryStore,
    entity_conflict,
    missing_entity,
    missing_launch_plan,
    missing_project,
)

__all__ = ["MemoryRegistryStore"]

_Key = tuple[str, str, str]


class MemoryRegistryStore(RegistryStore):
    """A :class:`RegistryStore` in this process's memory."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._projects: dict[str, tuple[str, str, float]] = {}
        self._packages: dict[str, tuple[int, float]] = {}
        self._entities: dict[_Key, EntityRow] = {}
        self._plans: dict[_Key, LaunchPlanRow] = {}

    def ensure_project(self, name: str, description: str = "", now: float | None = None) -> bool:
        with self._lock:
            if name in self._projects:
                return False
            self._projects[name] = (name, description, now or time.time())
            return True

    def list_projects(self) -> list[tuple[str, str, float]]:
        with self._lock:
            return [self._projects[n] for n in sorted(self._projects)]

    def get_project(self, name: str) -> tuple[str, str, float]:
        with self._lock:
            found = self._projects.get(name)
        if found is None:
            raise missing_project(name)
        return found

    def add_package(self, sha256: str, size: int, now: float) -> bool:
        with self._lock:
            if sha256 in self._packages:
                return False
            self._packages[sha256] = (size, now)
            return True

    def has_package(self, sha256: str) -> bool:
        with self._lock:
            return sha256 in self._packages

    def register(self, rows: list[EntityRow]) -> list[tuple[EntityRow, bool]]:
        with self._lock:
            out: list[tuple[EntityRow, bool]] = []
            new: dict[_Key, EntityRow] = {}
            for row in rows:
                key = (row.project, row.name, row.version)
                existing = self._entities.get(key) or new.get(key)
                if existing is not None:
                    conflict = entity_conflict(existing, row)
                    if conflict is not None:
                        raise conflict
                    out.append((existing, False))
                    continue
                new[key] = row
                out.append((row, True))
            self._entities.update(new)
            return out

    def get_entity(self, project: str, name: str, version: str | None) -> EntityRow:
        with self._lock:
            found = _version(self._entities, project, name, version)
        if found is None:
            raise missing_entity(project, name, version)
        return found

    def list_entities(self, project: str, kind: str | None = None) -> list[EntityRow]:
        with self._lock:
            rows = [
                r
                for r in self._entities.values()
                if r.project == project and (kind is None or r.kind == kind)
            ]
        rows.sort(key=lambda r: r.name)
        rows.sort(key=lambda r: r.registered_at, reverse=True)
        return rows

    def register_launch_plans(self, rows: list[LaunchPlanRow]) -> list[tuple[LaunchPlanRow, bool]]:
        with self._lock:
            out: list[tuple[LaunchPlanRow, bool]] = []
            for row in rows:
                key = (row.project, row.name, row.version)
                existing = self._plans.get(key)
                if existing is not None:
                    out.append((existing, False))
                    continue
                self._plans[key] = row
                out.append((row, True))
            return out

    def get_launch_plan(self, project: str, name: str, version: str | None) -> LaunchPlanRow:
        with self._lock:
            found = _version(self._plans, project, name, version)
        if found is None:
            raise missing_launch_plan(project, name, version)
        return found

    def list_launch_plans(self, project: str) -> list[LaunchPlanRow]:
        newest: dict[str, LaunchPlanRow] = {}
        with self._lock:
            for row in self._plans.values():
                if row.project != project:
                    continue
                held = newest.get(row.name)
                if held is None or row.registered_at > held.registered_at:
                    newest[row.name] = row
        return [newest[n] for n in sorted(newest)]


_R = TypeVar("_R", EntityRow, LaunchPlanRow)


def _version(rows: dict[_Key, _R], project: str, name: str, version: str | None) -> _R | None:
    if version is not None:
        return rows.get((project, name, version))
    found: _R | None = None
    for (p, n, _v), row in rows.items():
        if (
            p == project
            and n == name
            and (found is None or row.registered_at > found.registered_at)
        ):
            found = row
    return found
