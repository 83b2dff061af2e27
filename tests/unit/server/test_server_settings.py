"""A server's settings are checked by :mod:`airfoil.settings` alone: ``AIRFOIL_ADMISSION``
and the settings a ``ServerConfig`` carries itself (durability, the workers' nice) get the
settings' rule and message, not a second hand-written check that could drift from it."""

from __future__ import annotations

import pytest

from airfoil.server._config import ServerConfig, server_settings
from airfoil.settings import AirfoilSettings, SettingsError

pytestmark = pytest.mark.unit


def _message(make: object) -> str:
    with pytest.raises(SettingsError) as info:
        make()  # type: ignore[operator]
    return str(info.value)


def test_a_bad_admission_is_refused_with_the_settings_own_message(
    clean_env: pytest.MonkeyPatch,
) -> None:
    # main: a ConfigError of server_settings' own wording ("use auto (the default: ...")
    clean_env.setenv("AIRFOIL_ADMISSION", "bogus")
    said = _message(lambda: server_settings(ServerConfig(home="h")))
    assert said == _message(lambda: AirfoilSettings(home="h"))
    assert said.startswith("bad AIRFOIL_ADMISSION setting: got 'bogus'") and "'database'" in said


@pytest.mark.parametrize(
    ("env", "url", "admission"),
    [
        (None, None, "process"),  # auto on SQLite: each process its own
        (None, "postgresql+psycopg://db/airfoil", "database"),  # auto on PostgreSQL: one
        ("process", "postgresql+psycopg://db/airfoil", "process"),
        ("database", None, "database"),
    ],
)
def test_admission_auto_is_resolved_for_the_servers_database(
    clean_env: pytest.MonkeyPatch, env: str | None, url: str | None, admission: str
) -> None:
    if env is not None:
        clean_env.setenv("AIRFOIL_ADMISSION", env)
    assert server_settings(ServerConfig(home="h", database_url=url)).admission == admission


@pytest.mark.parametrize(("field", "value"), [("durability", "disk"), ("worker_nice", 20)])
def test_a_server_configs_own_setting_gets_the_settings_check(
    clean_env: pytest.MonkeyPatch, field: str, value: object
) -> None:
    # main: "invalid durability 'disk': ..." / "invalid worker nice 20: ..." of their own
    said = _message(lambda: ServerConfig(home="h", **{field: value}))  # type: ignore[arg-type]
    assert said == _message(lambda: AirfoilSettings(**{field: value}))
