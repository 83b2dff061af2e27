"""Configuration objects keep their secrets out of ``repr`` and ``str``: a debugger, an error
reporter that records a frame's locals, or a ``log.debug("%r", config)`` shows the rest of the
configuration, never a database password or the key every project's secrets are encrypted
with."""

from __future__ import annotations

import pytest

from airfoil.server._config import ServerConfig
from airfoil.settings import AirfoilSettings

PASSWORD = "hunter2-Zq9"
DB = f"postgresql+psycopg://bob:{PASSWORD}@db.example:5432/airfoil"


def test_settings_show_where_they_connect_but_no_password() -> None:
    settings = AirfoilSettings(
        database_url=DB,
        blob_url=f"s3://AKIAEXAMPLE:{PASSWORD}@bucket/runs",
        otel_endpoint=f"https://otel:{PASSWORD}@collector.example:4318",
    )
    for text in (repr(settings), str(settings)):
        assert PASSWORD not in text, text
        assert "bob:***@db.example:5432/airfoil" in text, text
        assert "AKIAEXAMPLE:***@bucket/runs" in text and "otel:***@collector" in text, text
    assert settings.database_url == DB  # the value itself is untouched


def test_a_server_config_shows_neither_password_nor_secrets_key() -> None:
    key = "k" * 40
    config = ServerConfig(home="/srv/af", database_url=DB, secrets_key=key)
    text = repr(config)
    assert PASSWORD not in text and key not in text, text
    assert "bob:***@db.example" in text and "secrets_key='***'" in text, text
    assert "home='/srv/af'" in text and "slots=4" in text, text
    assert config.secrets_key == key and config.database_url == DB
    assert "secrets_key=None" in repr(ServerConfig(home="/srv/af"))  # no key: says so


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("sqlite:////tmp/a.db", "sqlite:////tmp/a.db"),
        ("postgresql://bob@h/db", "postgresql://bob@h/db"),  # no password: as is
        ("postgresql://bob:p%40ss@h/db", "postgresql://bob:***@h/db"),
        ("postgresql://bob:p@ss/w@h:5/db", "postgresql://bob:***@h:5/db"),  # unescaped @ and /
        ("s3://bucket/key@v1", "s3://bucket/key@v1"),  # an @ in the path is not a password
        (
            "postgresql://bob@h/db?password=p%40ss&sslmode=require",  # libpq's keyword
            "postgresql://bob@h/db?password=***&sslmode=require",
        ),
        (
            "https://acct.blob.example/c?sv=2024&SIG=abc%2Bd",  # a SAS token's signature
            "https://acct.blob.example/c?sv=2024&SIG=***",
        ),
        ("s3://b/k?versionId=7&token=t0k#frag", "s3://b/k?versionId=7&token=***#frag"),
        ("https://h/x?tokens=3&passwordless=1", "https://h/x?tokens=3&passwordless=1"),
        ("auto", "auto"),
        ("", ""),
    ],
)
def test_masked_url(url: str, shown: str) -> None:
    from airfoil.settings import masked_url

    assert masked_url(url) == shown


def test_a_deployments_key_is_not_in_its_answers_repr() -> None:
    """(adv23) ``Deployments(client).key(NAME)`` answers a DeploymentKey; its ``repr`` and
    ``str`` (a REPL, a ``log.info("%s", got)``, an error reporter's locals) showed the key."""
    from airfoil.wire._deployments import DeploymentKey

    got = DeploymentKey(project="alpha", name="tiny", key=f"afm_{PASSWORD}", urls=["http://h"])
    for text in (repr(got), str(got)):
        assert PASSWORD not in text, text
        assert "tiny" in text and "http://h" in text, text
    assert got.key == f"afm_{PASSWORD}" and got.model_dump()["key"] == f"afm_{PASSWORD}"
