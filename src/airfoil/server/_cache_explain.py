"""``GET .../executions/{id}/nodes/{node}/cache``: ``airfoil cache explain`` on a server.

The explanation is the one the CLI gives on a local store
(:func:`airfoil.engine.cache_explain.explain_node`), which names executions as the node's
project does and hides another project's (a shared scope's entry written elsewhere), and
shows a shared scope's entries only to a project that may read the scope now.
"""

from __future__ import annotations

from airfoil.engine.cache_explain import explain_node
from airfoil.server._services import Deps, get_head
from airfoil.wire import CacheExplanation

__all__ = ["cache_explanation"]


def cache_explanation(d: Deps, project: str, execution_id: str, node_id: str) -> CacheExplanation:
    """Why a node of one of ``project``'s executions did or did not hit the cache.

    Raises:
        NotFoundError: no such execution in the project, or no such node.
    """
    get_head(d, project, execution_id)
    # a server's projects use only the cache scopes an admin declared (as its drives do)
    why = explain_node(d.meta, d.blobs, execution_id, node_id, declared_only=True)
    return CacheExplanation.model_validate(why)
