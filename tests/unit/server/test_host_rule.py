"""The ``Host`` rule shared by the API server and the model services (``airfoil.wire._hosts``):
cached (parsing a Host cost 3 us a request; adv21) and as correct as before, and the model
services' guard keeps its key out of its ``repr``."""

from __future__ import annotations

import pytest

from airfoil.ml._service_guard import ServiceGuard, key_from_environment
from airfoil.wire import _hosts
from airfoil.wire._hosts import host_allowed

pytestmark = pytest.mark.unit


def test_a_host_seen_before_is_answered_from_the_cache() -> None:
    _hosts._cached.cache_clear()
    assert host_allowed("127.0.0.1:8080", ())
    assert host_allowed("127.0.0.1:8080", ())
    assert _hosts._cached.cache_info().hits == 1
    # the allowed set is part of the key: the same name, another answer
    assert not host_allowed("a.corp.test", ())
    assert host_allowed("a.corp.test", (".corp.test",))
    assert not host_allowed("a.corp.test", ())


@pytest.mark.parametrize(
    ("host", "allowed", "answer"),
    [
        ("localhost", (), True),
        ("LOCALHOST:80", (), True),
        ("[::1]:8080", (), True),
        ("evil.example", (), False),
        ("localhost.evil.example", (), False),
        ("x.corp.test:443", (".corp.test",), True),
        ("evilcorp.test", (".corp.test",), False),
        ("anything", ("*",), True),
    ],
)
def test_the_rule_is_unchanged(host: str, allowed: tuple[str, ...], answer: bool) -> None:
    assert host_allowed(host, allowed) is answer
    assert host_allowed(host, allowed) is answer  # from the cache


def test_a_long_host_is_checked_but_never_kept() -> None:
    _hosts._cached.cache_clear()
    long = "a" * 300 + ".example"
    assert not host_allowed(long, ())
    assert host_allowed(long, ("*",))
    assert _hosts._cached.cache_info().currsize == 0


def test_the_service_key_is_never_shown() -> None:
    async def app(scope: object, receive: object, send: object) -> None:
        return None

    secret = "mk-very-secret-value"
    guard = ServiceGuard(app, key=secret)
    assert secret not in repr(guard) and guard.keyed
    env = {"AIRFOIL_MODEL_KEY": f" {secret} ", "AIRFOIL_MODEL_KEY_SCOPE": "s"}
    assert key_from_environment(env) == (secret, "s") and env == {}  # taken out
    assert key_from_environment({"AIRFOIL_MODEL_KEY": " "}) == (None, None)
