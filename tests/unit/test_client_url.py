"""A server URL that is not ``http(s)://HOST`` is the user's error at once, naming the fix,
not an "internal" failure to reach the server at the first call (exit 3 in the CLI)."""

from __future__ import annotations

import pytest

from airfoil.client import Client
from airfoil.core.errors import ConfigError


@pytest.mark.parametrize(
    "url", ["notaurl", "127.0.0.1:8080", "http://", "ftp://host", "http://[::1"]
)
def test_a_url_without_an_http_scheme_and_host_is_refused_naming_the_fix(url: str) -> None:
    with pytest.raises(ConfigError) as info:
        Client(url)
    message = str(info.value)
    assert repr(url) in message and "http://HOST:PORT" in message
    assert "AIRFOIL_SERVER_URL" in message


def test_a_bad_url_from_the_environment_is_refused_too(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AIRFOIL_SERVER_URL", "localhost:8080")
    with pytest.raises(ConfigError, match="'localhost:8080'"):
        Client()


@pytest.mark.parametrize(
    ("url", "kept"),
    [("http://127.0.0.1:8080/", "http://127.0.0.1:8080"), ("https://af.example", None)],
)
def test_http_and_https_urls_are_kept(url: str, kept: str | None) -> None:
    with Client(url) as client:
        assert client.url == (kept or url)


def test_a_urls_password_is_never_in_a_message() -> None:
    """A server behind a proxy's basic auth is given as http://user:password@host (adv20):
    the password was in the error of an unreachable server and in the CLI's lines."""
    from airfoil.core.errors import PlatformError

    with Client("http://user:s3cretpw@127.0.0.1:1") as client:
        assert client.shown_url == "http://user:***@127.0.0.1:1"
        with pytest.raises(PlatformError) as info:
            client.list()
    assert "s3cretpw" not in str(info.value) and "user:***@" in str(info.value)
    with pytest.raises(ConfigError) as refused:
        Client("ftp://user:s3cretpw@host")
    assert "s3cretpw" not in str(refused.value)


@pytest.mark.parametrize("param", ["token", "access_token", "api_key", "sig"])
def test_a_urls_credential_parameter_is_never_in_a_message(param: str) -> None:
    """A server behind a proxy that takes its token in the query (``?token=``): the settings'
    rule hides it, the client's shortcut (no ``@``: nothing to hide) showed it in the error
    of an unreachable server and in the CLI's lines."""
    from airfoil.core.errors import PlatformError

    with Client(f"http://127.0.0.1:1/?{param}=s3cretpw") as client:
        assert client.shown_url == f"http://127.0.0.1:1/?{param}=***"
        with pytest.raises(PlatformError) as info:
            client.list()
    assert "s3cretpw" not in str(info.value)
