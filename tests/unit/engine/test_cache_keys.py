"""Cache keys are scoped: per project unless a task opts into a shared scope."""

from __future__ import annotations

import msgspec

from airfoil.core.records import (
    CacheEntry,
    CacheKeyParts,
    CachePolicy,
    Interface,
    TaskSpec,
    Value,
)
from airfoil.engine.cache import cache_key, explain_miss, key_parts


def _task(scope: str = "") -> TaskSpec:
    return TaskSpec(
        name="flow.t",
        version="abc",
        interface=Interface(),
        module="flow",
        qualname="t",
        cache=CachePolicy(enabled=True, scope=scope),
    )


INPUTS = {"x": Value(hash="h1", format="json", inline=b"1")}


def test_the_same_task_and_inputs_in_two_projects_get_two_keys() -> None:
    alpha = key_parts(_task(), INPUTS, "alpha")
    beta = key_parts(_task(), INPUTS, "beta")
    assert alpha.scope == "project:alpha" and beta.scope == "project:beta"
    assert cache_key(alpha) != cache_key(beta)
    assert cache_key(alpha) == cache_key(key_parts(_task(), INPUTS, "alpha"))


def test_a_shared_scope_is_one_key_for_every_project() -> None:
    alpha = key_parts(_task("team"), INPUTS, "alpha")
    beta = key_parts(_task("team"), INPUTS, "beta")
    assert alpha.scope == beta.scope == "shared:team"
    assert cache_key(alpha) == cache_key(beta)
    assert cache_key(alpha) != cache_key(key_parts(_task(), INPUTS, "alpha"))


def test_explain_never_compares_with_another_projects_entries() -> None:
    beta = key_parts(_task(), INPUTS, "beta")
    entry = CacheEntry(key=cache_key(beta), parts=beta, outputs={}, created_at=0.0)
    alpha = key_parts(_task(), INPUTS, "alpha")
    assert explain_miss(alpha, [entry]) == "no cached result of this task yet"


def test_entries_written_before_scopes_still_decode() -> None:
    old = b'{"task":"flow.t","cache_version":"v","interface_hash":"i","input_hashes":{}}'
    assert msgspec.json.decode(old, type=CacheKeyParts).scope == ""


def test_two_domains_of_one_project_get_two_keys() -> None:
    dev = key_parts(_task(), INPUTS, "alpha", "development")
    prod = key_parts(_task(), INPUTS, "alpha", "production")
    assert dev.scope == "project:alpha/development" and prod.scope == "project:alpha/production"
    assert cache_key(dev) != cache_key(prod)
    shared = [key_parts(_task("team"), INPUTS, "alpha", d) for d in ("development", "production")]
    assert shared[0].scope == shared[1].scope == "shared:team"  # an opt-in shares across both
