"""(adv22) A server with API keys but no ``AIRFOIL_MODEL_KEY`` started keyless replicas (any
process on the machine could call them; it only logged a warning). Now it keeps a key of its
own in its home (``model.key``, ``0600``), the same across restarts, and never shows it."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from airfoil.core.errors import ConfigError
from airfoil.core.worker_env import deployment_key, key_scope
from airfoil.server._model_key import KEY_FILE, ModelKey
from airfoil.server._supervisor import ServiceEnv

pytestmark = pytest.mark.unit


def _unset(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("AIRFOIL_MODEL_KEY", raising=False)


def test_a_keyed_server_keeps_a_key_of_its_own(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _unset(monkeypatch)
    made = ModelKey(str(tmp_path), lambda: True)
    key = made.current()
    assert key and len(key) >= 40
    path = tmp_path / KEY_FILE
    assert stat.S_IMODE(path.stat().st_mode) == 0o600 and path.read_text().strip() == key
    assert made.current() == key
    assert ModelKey(str(tmp_path), lambda: True).current() == key  # a restart: the same key
    assert key not in repr(made) and "***" in repr(made)
    assert [p.name for p in tmp_path.iterdir()] == [KEY_FILE]  # no temporary file left


def test_an_open_server_keeps_its_replicas_keyless_until_it_has_keys(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _unset(monkeypatch)
    keyed = [False]
    made = ModelKey(str(tmp_path), lambda: keyed[0])
    assert made.current() is None and not (tmp_path / KEY_FILE).exists()
    keyed[0] = True  # the first API key, created while the server runs
    key = made.current()
    assert key is not None
    keyed[0] = False  # a server once keyed stays closed: the key stays
    assert made.current() == key


def test_not_knowing_whether_keys_exist_keys_the_replicas(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _unset(monkeypatch)

    def away() -> bool:
        raise OSError("database away")

    assert ModelKey(str(tmp_path), away).current() is not None


def test_the_environments_key_wins_and_is_never_written(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AIRFOIL_MODEL_KEY", " from-env ")
    made = ModelKey(str(tmp_path), lambda: False)
    assert made.current() == "from-env" and made.explicit
    assert "from-env" not in repr(made) and not (tmp_path / KEY_FILE).exists()


def test_a_key_that_cannot_be_kept_is_an_error_naming_the_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _unset(monkeypatch)
    (tmp_path / "file").write_text("")
    with pytest.raises(ConfigError, match=r"file/sub/model\.key.*AIRFOIL_MODEL_KEY"):
        ModelKey(str(tmp_path / "file" / "sub"), lambda: True).current()
    (tmp_path / KEY_FILE).write_text("\n")
    with pytest.raises(ConfigError, match="holds no model key"):
        ModelKey(str(tmp_path), lambda: True).current()


def test_a_replica_gets_the_derived_key_of_the_kept_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _unset(monkeypatch)
    made = ModelKey(str(tmp_path), lambda: True)
    env = ServiceEnv("/h", None, "/b", "/l", key_source=made.current)
    got = env.environ("ml", "m")
    key = made.current()
    assert key is not None and key not in repr(env) and key not in got.values()
    assert got["AIRFOIL_MODEL_KEY"] == deployment_key(key, key_scope("ml", "m"))
    assert env.headers() == {"Authorization": f"Bearer {key}"}


def test_a_kept_key_others_may_read_is_refused_naming_the_fix(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """(adv23) ``model.key`` readable by the group or others (copied with a umask of 022,
    edited by hand): every derived key is theirs, so the server refuses it, naming the file
    and ``chmod 600`` (it was used as it was before)."""
    _unset(monkeypatch)
    path = tmp_path / KEY_FILE
    path.write_text("k" * 43 + "\n")
    path.chmod(0o644)
    with pytest.raises(
        ConfigError, match=r"model\.key is open to other users \(mode 644\).*chmod 600"
    ) as e:
        ModelKey(str(tmp_path), lambda: True).current()
    assert "k" * 43 not in str(e.value)
    path.chmod(0o600)
    assert ModelKey(str(tmp_path), lambda: True).current() == "k" * 43


def test_a_short_kept_key_is_refused_naming_the_fix(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """(adv23) A ``model.key`` cut short (a disk filled, a hand edit: ``abc``) keyed every
    replica with a key anyone could guess; it is refused, naming the file and the fix, and
    never shown."""
    _unset(monkeypatch)
    path = tmp_path / KEY_FILE
    fd = os.open(path, os.O_WRONLY | os.O_CREAT, 0o600)
    os.write(fd, b"abc\n")
    os.close(fd)
    with pytest.raises(ConfigError, match=r"model\.key holds a key of 3 characters") as e:
        ModelKey(str(tmp_path), lambda: True).current()
    assert "abc" not in str(e.value)
