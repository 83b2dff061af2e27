"""Cache keys (pure) and the explanation of a hit or a miss.

Key = SHA-256 over (task name, cache version, interface hash, sorted input content hashes),
where the cache version is the task's ``cache_version`` if given, else its code version, and
inputs listed in ``cache_ignore_inputs`` are left out.
"""

from __future__ import annotations

from airfoil.core.ids import sha256_hex, stable_hash
from airfoil.core.records import CacheEntry, CacheKeyParts, TaskSpec, Value, encode_json

__all__ = ["cache_key", "explain_miss", "key_parts"]

_iface_hashes: dict[int, tuple[object, str]] = {}


def _interface_hash(task: TaskSpec) -> str:
    cached = _iface_hashes.get(id(task.interface))
    if cached is not None and cached[0] is task.interface:
        return cached[1]
    digest = sha256_hex(encode_json(task.interface))[:16]
    _iface_hashes[id(task.interface)] = (task.interface, digest)
    return digest


def key_parts(task: TaskSpec, inputs: dict[str, Value]) -> CacheKeyParts:
    """The parts of a node's cache key."""
    ignore = task.cache.ignore_inputs
    return CacheKeyParts(
        task=task.name,
        cache_version=task.cache.version or task.version,
        interface_hash=_interface_hash(task),
        input_hashes={k: v.hash for k, v in sorted(inputs.items()) if k not in ignore},
    )


def cache_key(parts: CacheKeyParts) -> str:
    """The key for a set of parts."""
    flat = [parts.task, parts.cache_version, parts.interface_hash]
    for name, digest in sorted(parts.input_hashes.items()):
        flat += [name, digest]
    return stable_hash(*flat)


def explain_miss(parts: CacheKeyParts, previous: list[CacheEntry]) -> str:
    """Why no entry matched: compared with the newest entries of the same task."""
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
