"""A registered model whose bytes were deleted from the blob store (a retention job, a bucket
cleaned by hand): promoting it is refused, naming the version and what to do, and loading it
says which version's bytes are gone. Before 2026-12-06 the alias moved to it (so a running
service kept the old version with a log line while ``models show`` said the new one, and every
new replica failed) and a load said only ``blob file:///... does not exist``."""

from __future__ import annotations

import pytest
from _tiny import model

from airfoil.core.errors import NotFoundError
from airfoil.ml import ModelRegistry
from airfoil.ml._serve import ModelService

pytestmark = pytest.mark.integration


def test_a_version_whose_bytes_are_gone(registry: ModelRegistry) -> None:
    v1 = model.train(hyperparameters={"C": 1.0}, registry=registry, rows=120)
    v2 = model.train(hyperparameters={"C": 0.5}, registry=registry, rows=120)
    registry.promote(v1.ref, "production")
    service = ModelService(model, registry, "tiny@production")
    gone = registry.resolve(v2.ref)
    registry.blobs.delete(gone.uri)

    with pytest.raises(NotFoundError) as refused:
        registry.promote(v2.ref, "production")
    said = str(refused.value)
    assert "tiny:2" in said and "'production' was not moved" in said, said
    assert "register" in said, said
    assert registry.resolve("tiny@production").version == 1  # the alias stayed
    assert not service.check_once() and service.current.artifact.version == 1

    with pytest.raises(NotFoundError) as load:
        registry.load(model, v2.ref)
    assert "tiny:2" in str(load.value) and gone.uri in str(load.value), load.value


def test_no_rollback_to_a_version_whose_bytes_are_gone(registry: ModelRegistry) -> None:
    v1 = model.train(hyperparameters={"C": 1.0}, registry=registry, rows=120)
    v2 = model.train(hyperparameters={"C": 0.5}, registry=registry, rows=120)
    registry.promote(v1.ref, "production")
    registry.promote(v2.ref, "production")
    registry.blobs.delete(registry.resolve(v1.ref).uri)
    with pytest.raises(NotFoundError) as refused:
        registry.rollback("tiny", "production")
    said = str(refused.value)
    assert "tiny:1" in said and "'production' was not rolled back" in said, said
    assert registry.resolve("tiny@production").version == 2  # the alias stayed


def test_no_promote_or_rollback_to_a_version_whose_bytes_do_not_match_their_hash(
    registry: ModelRegistry,
) -> None:
    """Bytes damaged in place (a disk fault, a hand edit): promote checked only that they
    exist, so the alias moved and every service following it logged a CorruptBlobError each
    10 s while ``models show`` named the version. Refused now, naming it and the fix."""
    from airfoil.core.errors import CorruptVersionError

    v1 = model.train(hyperparameters={"C": 1.0}, registry=registry, rows=120)
    v2 = model.train(hyperparameters={"C": 0.5}, registry=registry, rows=120)
    registry.promote(v1.ref, "production")
    service = ModelService(model, registry, "tiny@production")
    damaged = registry.resolve(v2.ref)
    path = registry.blobs.local_path(damaged.uri)
    assert path is not None
    with open(path, "r+b") as f:  # one byte flipped, the size kept
        first = f.read(1)
        f.seek(0)
        f.write(bytes([first[0] ^ 0xFF]))

    with pytest.raises(CorruptVersionError) as refused:  # main: promoted
        registry.promote(v2.ref, "production")
    said = str(refused.value)
    assert "tiny:2" in said and "'production' was not moved" in said, said
    assert "no longer match the hash" in said and "retrain" in said, said
    assert registry.resolve("tiny@production").version == 1  # the alias stayed
    assert not service.check_once() and service.current.artifact.version == 1

    with open(path, "r+b") as f:  # repaired: promoted, then damaged again
        f.write(first)
    registry.promote(v2.ref, "staging")
    with open(path, "r+b") as f:
        f.write(bytes([first[0] ^ 0xFF]))
    registry.promote(v1.ref, "staging")
    with pytest.raises(CorruptVersionError, match="'staging' was not rolled back"):
        registry.rollback("tiny", "staging")
    assert registry.resolve("tiny@staging").version == 1
