"""What a project's user calls the executions that records name by id.

Failures, cache entries and explanations, metric series, artifact lineage, queues and event
causes are keyed by an execution's global id (``f`` + time + random). A user of a project
addresses an execution by its name there (unique within the project and domain; the id itself
for a run launched without one, or stored before names were per project), so whatever shows
such a record shows the name instead: the text shown is what ``airfoil`` commands of that
project take (:meth:`~airfoil.store.base.MetaStore.resolve_execution`). A name is unique only
within a domain, so the name travels with its execution's domain (:meth:`ExecutionNames.domain`):
a link or command that gives both (``?domain=``) opens that run even where the project uses the
name in several domains (where the name alone is a 409 naming the ids).

Invariant: another project's execution is never named, by name or by id: :meth:`ExecutionNames.of`
answers None for it as for one that does not exist, and :meth:`ExecutionNames.text` replaces
it with ``(of another project)``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from airfoil.core.errors import NotFoundError
from airfoil.store.base import MetaStore

__all__ = ["FOREIGN", "ExecutionNames"]

#: What stands for an execution of another project in a text.
FOREIGN = "(of another project)"

_SOURCE = re.compile(r"\bexecution (\S+) node\b")


class ExecutionNames:
    """The names ``project`` knows executions by, and their domains, looked up once each (one
    head read).

    Args:
        meta: the store.
        project: the project whose user reads what is shown.
    """

    __slots__ = ("_known", "meta", "project")

    def __init__(self, meta: MetaStore, project: str) -> None:
        self.meta = meta
        self.project = project
        #: (name, domain) by id; None: another project's, or no such execution
        self._known: dict[str, tuple[str, str] | None] = {}

    def remember(self, execution_id: str, name: str, domain: str) -> None:
        """Know ``execution_id`` as the project's ``name`` in ``domain`` without a read (one
        at hand)."""
        self._known[execution_id] = (name or execution_id, domain)

    def _named(self, execution_id: str) -> tuple[str, str] | None:
        if not execution_id:
            return None
        if execution_id not in self._known:
            try:
                head = self.meta.get_execution_head(execution_id)
            except NotFoundError:
                self._known[execution_id] = None
            else:
                mine = head.project == self.project
                self._known[execution_id] = (head.display_name, head.domain) if mine else None
        return self._known[execution_id]

    def of(self, execution_id: str) -> str | None:
        """The name of execution ``execution_id`` in the project, or None if it is another
        project's or does not exist."""
        named = self._named(execution_id)
        return named[0] if named is not None else None

    def domain(self, execution_id: str) -> str:
        """The domain of execution ``execution_id`` (within which its name is unique), or
        ``""`` if it is another project's or does not exist."""
        named = self._named(execution_id)
        return named[1] if named is not None else ""

    def mine(self, execution_id: str) -> bool:
        """Whether ``execution_id`` is an execution of the project."""
        return self.of(execution_id) is not None

    def shown(self, execution_id: str) -> str:
        """The name to show for ``execution_id``: its name in the project, else ``""``."""
        return self.of(execution_id) or ""

    def all(self, execution_ids: Iterable[str]) -> dict[str, str]:
        """The names of those of ``execution_ids`` that are the project's, by id."""
        out = {}
        for eid in execution_ids:
            name = self.of(eid)
            if name is not None:
                out[eid] = name
        return out

    def text(self, text: str) -> str:
        """``text`` with each ``execution ID node`` (a cache hit's reason names the execution
        that wrote the entry) naming the execution as the project does, or as
        :data:`FOREIGN` for another project's."""
        if "execution " not in text:
            return text

        def swap(m: re.Match[str]) -> str:
            name = self.of(m.group(1))
            return f"execution {name if name is not None else FOREIGN} node"

        return _SOURCE.sub(swap, text)
