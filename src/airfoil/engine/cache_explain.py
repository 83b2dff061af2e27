"""Why a node did or did not hit the cache: one explanation for the CLI (local store) and the
server (``GET .../nodes/{node}/cache``), so both say the same.

An explanation holds the key part by part, whether an entry exists for it now (and, if not, how
the newest entries of the task in the same scope differ), and for a node whose code version is
not the one last cached, which functions and constants changed, with a short diff (from the
stored manifests of the two versions, see :mod:`airfoil.core.code_versions`), plus what the
version cannot see. Entries are only compared within the node's scope: another project's are
never looked at. A shared scope's (``cache_scope=``) are shown only to a project that may read
the scope now: a former member's explanation says so (``scope_closed``) in place of the
scope's entries, whatever is there (the gate of the drive, :class:`ScopeGate`, decides).

Executions are named as the node's project names them
(:class:`~airfoil.store.naming.ExecutionNames`: ``execution_name`` and ``execution_domain``
beside each id, and the name in the reasons' text); the execution and node that wrote an entry
of a shared scope (``cache_scope=``) in another project are shown as empty, on a server and
locally alike.
"""

from __future__ import annotations

from typing import Any

from airfoil.core.blobs import BlobStore
from airfoil.core.code_versions import diff_versions, load_manifest
from airfoil.core.records import CacheEntry
from airfoil.engine._scope_gate import ScopeGate
from airfoil.engine.cache import SHARED_SCOPE, explain_miss
from airfoil.store.base import MetaStore
from airfoil.store.naming import ExecutionNames

__all__ = ["explain_node"]


def explain_node(
    meta: MetaStore,
    blobs: BlobStore,
    execution_id: str,
    node_id: str,
    *,
    declared_only: bool,
) -> dict[str, Any]:
    """The explanation of a node's cache status, as JSON data::

        {"execution_id", "execution_name", "execution_domain", "node", "kind", "task", "cache",
         "reason", "key",
         "parts": {"task", "scope", "cache_version", "interface_hash", "inputs"} | None,
         "entry_now": REF | None, "miss_now": str | None, "scope_closed": str | None,
         "code_changes": {"since_version", "cached_by": REF, "lines": [...]} | None,
         "not_covered": {name: why}}

    where ``REF`` is ``{"execution_id", "execution_name", "execution_domain", "node_id"}`` of
    the node that wrote an entry (all empty for another project's). ``scope_closed`` says why
    the entries of the node's shared scope are not shown (``entry_now``, ``miss_now`` and
    ``code_changes`` are then empty): the execution's project may not read the scope now.
    ``declared_only``: an undeclared scope is closed (a server's rule), else open (a local
    home's, see :class:`~airfoil.engine._scope_gate.ScopeGate`).

    Raises:
        NotFoundError: no such execution or node.
    """
    head = meta.get_execution_head(execution_id)
    rec = meta.get_node(execution_id, node_id)
    names = ExecutionNames(meta, head.project)
    names.remember(head.id, head.display_name, head.domain)

    def ref(eid: str, nid: str) -> dict[str, str]:
        name = names.of(eid)
        if name is None:  # another project's (or gone): nothing of it is shown
            return {"execution_id": "", "execution_name": "", "execution_domain": "", "node_id": ""}
        domain = names.domain(eid)
        return {
            "execution_id": eid,
            "execution_name": name,
            "execution_domain": domain,
            "node_id": nid,
        }

    parts = rec.cache_key_parts
    out: dict[str, Any] = {
        "execution_id": execution_id,
        "execution_name": head.display_name,
        "execution_domain": head.domain,
        "node": node_id,
        "kind": rec.kind,
        "task": rec.task,
        "cache": rec.cache_status,
        "reason": names.text(rec.cache_reason),
        "key": rec.cache_key or None,
        "parts": None,
        "entry_now": None,
        "miss_now": None,
        "scope_closed": None,
        "code_changes": None,
        "not_covered": {},
    }
    if parts is None:
        return out
    out["parts"] = {
        "task": parts.task,
        "scope": parts.scope,
        "cache_version": parts.cache_version,
        "interface_hash": parts.interface_hash,
        "inputs": dict(parts.input_hashes),
    }
    manifest = load_manifest(blobs, parts.cache_version)
    if manifest is not None:  # the node's own code: what its version cannot see
        out["not_covered"] = dict(manifest.unhashable)
    if parts.scope.startswith(SHARED_SCOPE):
        gate = ScopeGate(meta, head.project, declared_only=declared_only)
        if not gate.access(parts.scope):
            out["scope_closed"] = _closed(parts.scope.removeprefix(SHARED_SCOPE), head.project)
            return out
    others: list[CacheEntry] = [
        e
        for e in meta.find_cache_by_task(parts.task)
        if e.key != rec.cache_key and e.parts.scope == parts.scope
    ]
    entry = meta.get_cache(rec.cache_key) if rec.cache_key else None
    if entry is not None:
        out["entry_now"] = ref(entry.execution_id, entry.node_id)
    else:
        out["miss_now"] = names.text(explain_miss(parts, others))
    if manifest is None or rec.cache_status == "hit":
        return out
    previous = next((e for e in others if e.parts.cache_version != parts.cache_version), None)
    old = load_manifest(blobs, previous.parts.cache_version) if previous is not None else None
    if previous is not None and old is not None:
        out["code_changes"] = {
            "since_version": previous.parts.cache_version,
            "cached_by": ref(previous.execution_id, previous.node_id),
            "lines": diff_versions(old, manifest),
        }
    return out


def _closed(scope: str, project: str) -> str:
    """Why a former member's explanation shows none of the scope's entries."""
    return (
        f"project {project!r} may not read cache scope {scope!r} now: its entries are not "
        f"shown (ask an admin to run `airfoil cache scopes grant {scope} {project} --read` "
        "to read them)"
    )
