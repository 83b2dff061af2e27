"""Cache keys (pure) and the explanation of a hit or a miss.

Key = SHA-256 over (scope, task name, cache version, interface hash, sorted input content
hashes), where the scope is the execution's project and domain
(``project:<name>/<domain>``) unless the task opted into a shared scope (``cache_scope=``:
``shared:<name>``), the cache version is the task's ``cache_version`` if given, else its code
version, and inputs listed in ``cache_ignore_inputs`` are left out. An input whose hash is
not a SHA-256 (a frame's BLAKE3: ``meta["digest"]``, :mod:`airfoil.types._digests`) enters
the key as ``<algorithm>:<hash>``, so the key says its algorithm: an entry written when the
same frame was keyed by its SHA-256 is an honest miss, never a hit on other content. So the
same task in two projects, or in two domains of one project (development and production),
never shares an entry: one can neither read nor poison the other's results. A shared scope
is used only by its members (read, or read and write), which ``_scope_gate`` checks.
"""

from __future__ import annotations

import msgspec

from airfoil.core.ids import sha256_hex, stable_hash
from airfoil.core.records import (
    CacheEntry,
    CacheKeyParts,
    Interface,
    Param,
    TaskSpec,
    Value,
    encode_json,
)
from airfoil.types._digests import DIGEST_META

__all__ = [
    "SHARED_SCOPE",
    "cache_key",
    "cache_scope",
    "explain_miss",
    "key_parts",
    "outputs_written",
    "project_scopes",
]

_iface_hashes: dict[int, tuple[object, str]] = {}


def _interface_hash(task: TaskSpec) -> str:
    cached = _iface_hashes.get(id(task.interface))
    if cached is not None and cached[0] is task.interface:
        return cached[1]
    digest = sha256_hex(encode_json(_keyed_interface(task.interface)))[:16]
    _iface_hashes[id(task.interface)] = (task.interface, digest)
    return digest


def _keyed_interface(interface: Interface) -> Interface:
    """The interface as its key part hashes it: without the parameters' descriptions, which
    come from the docstring's ``Args:`` (an edit there kept the code version but changed the
    key: a miss whose reason said "interface changed", before 2026-12-07). An interface with
    no description encodes as before (empty ones are omitted), so its keys keep."""

    def bare(params: tuple[Param, ...]) -> tuple[Param, ...]:
        return tuple(msgspec.structs.replace(p, description="") for p in params)

    return msgspec.structs.replace(
        interface, inputs=bare(interface.inputs), outputs=bare(interface.outputs)
    )


def outputs_written(ran_version: str) -> str:
    """The event text of a successful attempt: ``ran_version`` set, the task's code changed
    after the launch (a recover or resume after an edit), so its outputs are not cached
    under the launched version's key (a later run of the launched code would read them)."""
    if not ran_version:
        return "outputs written"
    return (
        f"outputs written, not cached: the task's code is version {ran_version} now, not the "
        "launched one (relaunch to run and cache the new code)"
    )


#: The prefix of a named (shared) scope's keys: ``shared:<name>`` (see engine._scope_gate).
SHARED_SCOPE = "shared:"


def cache_scope(task: TaskSpec, project: str, domain: str = "") -> str:
    """The scope of a task's entries when run in ``project`` and ``domain``."""
    if task.cache.scope:
        return SHARED_SCOPE + task.cache.scope
    return f"project:{project}/{domain}" if domain else f"project:{project}"


def project_scopes(scope: str, project: str) -> bool:
    """Whether ``scope`` is one of ``project``'s own (any domain's, or one written before
    domains entered the scope)."""
    mine = f"project:{project}"
    return scope == mine or scope.startswith(mine + "/")


def key_parts(
    task: TaskSpec, inputs: dict[str, Value], project: str = "", domain: str = ""
) -> CacheKeyParts:
    """The parts of a node's cache key, for a node of an execution of ``project`` in
    ``domain``."""
    ignore = task.cache.ignore_inputs
    return CacheKeyParts(
        task=task.name,
        cache_version=task.cache.version or task.version,
        interface_hash=_interface_hash(task),
        input_hashes={k: _content_key(v) for k, v in sorted(inputs.items()) if k not in ignore},
        scope=cache_scope(task, project, domain),
    )


def _content_key(value: Value) -> str:
    """An input's part of a key: its hash, prefixed by its algorithm unless SHA-256."""
    algorithm = value.meta.get(DIGEST_META) if value.meta else None
    return value.hash if algorithm is None else f"{algorithm}:{value.hash}"


def cache_key(parts: CacheKeyParts) -> str:
    """The key for a set of parts."""
    flat = [parts.scope, parts.task, parts.cache_version, parts.interface_hash]
    for name, digest in sorted(parts.input_hashes.items()):
        flat += [name, digest]
    return stable_hash(*flat)


def explain_miss(parts: CacheKeyParts, previous: list[CacheEntry]) -> str:
    """Why no entry matched: compared with the newest entries of the same task in the same
    scope (another project's entries are never looked at)."""
    previous = [e for e in previous if e.parts.scope == parts.scope]
    if not previous:
        return "no cached result of this task yet"
    best: tuple[int, str] | None = None
    for entry in previous:
        p = entry.parts
        diffs = []
        if p.cache_version != parts.cache_version:
            diffs.append(f"version changed ({p.cache_version} -> {parts.cache_version})")
        if p.interface_hash != parts.interface_hash:
            diffs.append("interface changed")
        changed = sorted(
            k
            for k in set(p.input_hashes) | set(parts.input_hashes)
            if p.input_hashes.get(k) != parts.input_hashes.get(k)
        )
        if changed:
            diffs.append(
                "input"
                + ("s " if len(changed) > 1 else " ")
                + ", ".join(repr(c) for c in changed)
                + " changed"
            )
        text = "; ".join(diffs) or "key differs"
        if best is None or len(diffs) < best[0]:
            best = (len(diffs), text)
    assert best is not None
    return best[1] + " since the last cached run"
