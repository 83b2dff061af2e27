"""The secret store conformance suite: tests every :class:`SecretStore` backend passes.

Subclass :class:`SecretStoreConformance` and provide the ``open_secret_store`` fixture: a
function that opens a store, with the key it is given, over one empty storage (every call of
one test opens the *same* storage, as a second process would)::

    class TestMySecrets(SecretStoreConformance):
        @pytest.fixture
        def open_secret_store(self) -> Iterator[Callable[[str], SecretStore]]:
            storage = MyStorage()
            yield lambda key: MySecretStore(storage, key)
            storage.close()

Invariants checked are those of :mod:`airfoil.store.secrets`, with their adversarial half:
another project's secret of the same name, a wrong key, a missing name, invalid names, and a
value or key showing in a ``repr`` or an error.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import pytest

from airfoil.core.errors import ConfigError, NotFoundError
from airfoil.store.secrets import SecretStore, new_key

__all__ = ["VALUE", "SecretStoreConformance"]

#: A value no token, name or message contains by chance.
VALUE = "s3cr3t-Value-\u00e9-7f1c"

OpenSecretStore = Callable[[str], SecretStore]


class SecretStoreConformance:
    """Every secret store backend passes these (provide the ``open_secret_store`` fixture)."""

    @pytest.fixture
    def secrets_key(self) -> str:
        """The key the suite's stores are opened with."""
        return new_key()

    @pytest.fixture
    def secret_store(self, open_secret_store: OpenSecretStore, secrets_key: str) -> SecretStore:
        return open_secret_store(secrets_key)

    def test_set_get_list_delete(self, secret_store: SecretStore) -> None:
        s = secret_store
        assert s.names("alpha") == []
        s.set("alpha", "token", VALUE)
        s.set("alpha", "db.password", "pw")
        assert s.get("alpha", "token") == VALUE
        assert s.names("alpha") == ["db.password", "token"]
        assert s.get_many("alpha", ("token", "db.password", "absent")) == {
            "token": VALUE,
            "db.password": "pw",
        }
        s.set("alpha", "token", "second")  # replaces
        assert s.get("alpha", "token") == "second"
        assert s.names("alpha") == ["db.password", "token"]
        s.delete("alpha", "token")
        assert s.names("alpha") == ["db.password"]
        assert s.get_many("alpha", ("token",)) == {}
        with pytest.raises(NotFoundError, match="no secret 'token' in project 'alpha'"):
            s.get("alpha", "token")

    def test_empty_and_unicode_values_round_trip(self, secret_store: SecretStore) -> None:
        secret_store.set("alpha", "empty", "")
        secret_store.set("alpha", "multi", "line one\nline two \u2603")
        assert secret_store.get_many("alpha", ("empty", "multi")) == {
            "empty": "",
            "multi": "line one\nline two \u2603",
        }

    def test_encrypted_at_rest(self, secret_store: SecretStore, secrets_key: str) -> None:
        secret_store.set("alpha", "token", VALUE)
        token = secret_store.at_rest("alpha", "token")
        assert token is not None and VALUE not in token and secrets_key not in token
        secret_store.set("alpha", "token", VALUE)  # a fresh token each time (random IV)
        assert secret_store.at_rest("alpha", "token") != token
        assert secret_store.at_rest("alpha", "absent") is None

    def test_another_projects_secret_of_the_same_name_is_not_visible(
        self, secret_store: SecretStore
    ) -> None:
        s = secret_store
        s.set("alpha", "token", VALUE)
        assert s.get_many("beta", ("token",)) == {}
        assert s.names("beta") == []
        with pytest.raises(NotFoundError, match="no secret 'token' in project 'beta'"):
            s.get("beta", "token")
        with pytest.raises(NotFoundError, match="in project 'beta'"):
            s.delete("beta", "token")
        s.set("beta", "token", "beta's")
        assert s.get("alpha", "token") == VALUE  # beta's write left alpha's alone
        s.delete("beta", "token")
        assert s.get("alpha", "token") == VALUE

    def test_a_wrong_key_fails_naming_the_secret(
        self, open_secret_store: OpenSecretStore, secrets_key: str
    ) -> None:
        right = open_secret_store(secrets_key)
        right.set("alpha", "token", VALUE)
        other_key = new_key()
        wrong = open_secret_store(other_key)
        for read in (
            lambda: wrong.get("alpha", "token"),
            lambda: wrong.get_many("alpha", ("token",)),
        ):
            with pytest.raises(ConfigError) as caught:
                read()
            message = str(caught.value)
            assert "'token'" in message and "AIRFOIL_SECRETS_KEY" in message
            assert VALUE not in message and secrets_key not in message and other_key not in message
            assert (right.at_rest("alpha", "token") or "?") not in message
        # names are no secret: a store with another key still lists them and can delete
        assert wrong.names("alpha") == ["token"]
        assert right.get("alpha", "token") == VALUE

    def test_a_tampered_token_fails_naming_the_secret(self, secret_store: SecretStore) -> None:
        secret_store.set("alpha", "token", VALUE)
        token = secret_store.at_rest("alpha", "token")
        assert token is not None
        flipped = token[:-6] + ("A" if token[-6] != "A" else "B") + token[-5:]
        secret_store._write("alpha", "token", flipped)  # what a hand-edited row holds
        with pytest.raises(ConfigError, match="secret 'token' of project 'alpha' cannot be"):
            secret_store.get("alpha", "token")

    def test_delete_of_a_missing_name_is_a_typed_error(self, secret_store: SecretStore) -> None:
        with pytest.raises(NotFoundError, match="no secret 'absent' in project 'alpha'"):
            secret_store.delete("alpha", "absent")
        secret_store.set("alpha", "token", VALUE)
        secret_store.delete("alpha", "token")
        with pytest.raises(NotFoundError, match="no secret 'token'"):
            secret_store.delete("alpha", "token")

    @pytest.mark.parametrize(
        "name",
        ["", " token", "my secret", "a/b", "x\n", "-flag", ".hidden", "n" * 101, "tok\u00e9n"],
    )
    def test_names_are_validated(self, secret_store: SecretStore, name: str) -> None:
        for call in (
            lambda: secret_store.set("alpha", name, VALUE),
            lambda: secret_store.get("alpha", name),
            lambda: secret_store.delete("alpha", name),
        ):
            with pytest.raises(ConfigError, match="invalid secret name"):
                call()
        assert secret_store.names("alpha") == []
        assert secret_store.get_many("alpha", (name,)) == {}  # never stored, so never found

    def test_projects_are_validated(self, secret_store: SecretStore) -> None:
        for project in ("", "has space", "../etc"):
            with pytest.raises(ConfigError, match="invalid project name"):
                secret_store.set(project, "token", VALUE)
            with pytest.raises(ConfigError, match="invalid project name"):
                secret_store.names(project)

    def test_a_value_must_be_a_string(self, secret_store: SecretStore) -> None:
        with pytest.raises(ConfigError, match="secret 'token': a value is a string, not bytes"):
            secret_store.set("alpha", "token", b"raw")  # type: ignore[arg-type]

    def test_no_key_or_value_in_reprs_or_errors(
        self, secret_store: SecretStore, secrets_key: str
    ) -> None:
        secret_store.set("alpha", "token", VALUE)
        shown = repr(secret_store) + str(secret_store) + repr(vars(secret_store).keys())
        assert VALUE not in shown and secrets_key not in shown
        with pytest.raises(NotFoundError) as caught:
            secret_store.get("alpha", "other")
        assert VALUE not in str(caught.value)

    def test_a_missing_or_malformed_key_is_a_config_error(
        self, open_secret_store: OpenSecretStore
    ) -> None:
        with pytest.raises(ConfigError, match="no secrets key: set AIRFOIL_SECRETS_KEY"):
            open_secret_store("")
        with pytest.raises(ConfigError, match="is not a valid key") as caught:
            open_secret_store("not-a-key")
        assert "not-a-key" not in str(caught.value)

    def test_concurrent_writers_of_one_project(self, secret_store: SecretStore) -> None:
        def write(i: int) -> None:
            for j in range(5):
                secret_store.set("alpha", f"t{i}", f"v{i}-{j}")

        with ThreadPoolExecutor(4) as pool:
            list(pool.map(write, range(4)))  # raises what a writer raised
        assert secret_store.get_many("alpha", [f"t{i}" for i in range(4)]) == {
            f"t{i}": f"v{i}-4" for i in range(4)
        }
