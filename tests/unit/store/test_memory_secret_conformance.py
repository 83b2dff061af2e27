"""The in-memory secret store passes the secret store conformance suite."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from airfoil.store.memory_secrets import MemorySecretStore
from airfoil.store.secrets import SecretStore, new_key
from airfoil.testing.secret_conformance import SecretStoreConformance

pytestmark = pytest.mark.unit


class TestMemorySecretStore(SecretStoreConformance):
    @pytest.fixture
    def open_secret_store(self) -> Callable[[str], SecretStore]:
        storage = MemorySecretStore(new_key())

        def open_store(key: str) -> SecretStore:
            return MemorySecretStore(key, shared=storage)

        return open_store
