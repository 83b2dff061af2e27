"""A cold ``airfoil serve`` does the registry's part in a forked child (open the registry,
resolve the reference, read the version's bytes and check their hash) while it imports the
service's libraries: the child hands over the same version and bytes the registry reads, and
what goes wrong there is raised in the service process as the registry raised it."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from airfoil.core.errors import CorruptBlobError, NotFoundError
from airfoil.ml import ModelRegistry
from airfoil.ml._service_process import Prefetch
from airfoil.store.blob import open_blob_store
from airfoil.store.sql import SqlArtifactStore

pytestmark = pytest.mark.integration


def test_the_forked_child_hands_over_what_the_registry_reads(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("AIRFOIL_DATABASE_URL", "AIRFOIL_PROJECT"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AIRFOIL_HOME", str(tmp_path))
    monkeypatch.setenv("AIRFOIL_BLOB_URL", str(tmp_path / "blobs"))
    # Written through a registry of its own, closed before the fork (the child opens the
    # environment's registry itself, as the command's does).
    store = SqlArtifactStore(f"sqlite:///{tmp_path / 'airfoil.db'}")
    registry = ModelRegistry(store, open_blob_store(str(tmp_path / "blobs")), "default")
    data = os.urandom(3 * 2**20)
    version = registry.publish("weights", data)
    registry.promote(version.ref, "production")
    other = registry.publish("broken", b"these bytes will change")
    store.close()

    got, got_data = Prefetch("weights@production").result()
    assert got == version and got_data == data

    with pytest.raises(NotFoundError, match="has no alias 'staging'"):
        Prefetch("weights@staging").result()
    with pytest.raises(NotFoundError):
        Prefetch("nothing:1").result()

    blob = next(
        p
        for p in (tmp_path / "blobs").rglob("*")
        if p.is_file() and p.read_bytes() == b"these bytes will change"
    )
    blob.write_bytes(b"these bytes have changed")
    with pytest.raises(CorruptBlobError, match=f"{other.ref} no longer match"):
        Prefetch(other.ref).result()
