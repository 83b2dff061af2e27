"""``GET .../executions/{id}/nodes/{node}/cache``: ``airfoil cache explain`` on a server.

The explanation is the one the CLI gives on a local store
(:func:`airfoil.engine.cache_explain.explain_node`), with what would name another project's
runs hidden: the execution and node that wrote an entry of a shared scope (``cache_scope=``) in
another project are shown as empty ids, and ids in the reasons are replaced as everywhere else
(:func:`~airfoil.server._services.hide_foreign`).
"""

from __future__ import annotations

from typing import Any

from airfoil.core.errors import NotFoundError
from airfoil.engine.cache_explain import explain_node
from airfoil.server._services import Deps, get_head, hide_foreign
from airfoil.wire import CacheExplanation

__all__ = ["cache_explanation"]


def cache_explanation(d: Deps, project: str, execution_id: str, node_id: str) -> CacheExplanation:
    """Why a node of one of ``project``'s executions did or did not hit the cache.

    Raises:
        NotFoundError: no such execution in the project, or no such node.
    """
    get_head(d, project, execution_id)
    why = explain_node(d.meta, d.blobs, execution_id, node_id)
    owners: dict[str, str | None] = {}

    def mine(ref: dict[str, Any] | None) -> None:
        if ref is None or not ref["execution_id"]:
            return
        eid = ref["execution_id"]
        if eid not in owners:
            try:
                owners[eid] = d.meta.get_execution(eid).project
            except NotFoundError:
                owners[eid] = None
        if owners[eid] != project:
            ref["execution_id"] = ref["node_id"] = ""

    mine(why["entry_now"])
    if why["code_changes"] is not None:
        mine(why["code_changes"]["cached_by"])
    why["reason"] = hide_foreign(d, project, why["reason"], owners)
    if why["miss_now"]:
        why["miss_now"] = hide_foreign(d, project, why["miss_now"], owners)
    return CacheExplanation.model_validate(why)
