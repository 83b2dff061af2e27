"""``AirfoilSettings`` reads ``AIRFOIL_*`` as pydantic-settings' ``BaseSettings`` did.

It is a plain pydantic model now (importing pydantic-settings cost every ``airfoil run``
about 15% of its start-up); a twin ``BaseSettings`` with the same fields is the reference
for how each variable is read, so the two cannot drift apart silently.
"""

from __future__ import annotations

import os
from typing import Any

import pytest
from pydantic import ValidationError, create_model
from pydantic_settings import BaseSettings, SettingsConfigDict

from airfoil.settings import AirfoilSettings


class _Reference(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="AIRFOIL_", extra="ignore")


_Twin: Any = create_model(  # type: ignore[call-overload]
    "_Twin",
    __base__=_Reference,
    **{name: (f.annotation, f) for name, f in AirfoilSettings.model_fields.items()},
)

CASES: list[dict[str, str]] = [
    {},
    {"AIRFOIL_HOME": "/srv/af", "AIRFOIL_PROJECT": "alpha"},
    {"airfoil_domain": "production", "Airfoil_Executor": "process"},  # any case
    {"AIRFOIL_GPUS": "3", "AIRFOIL_MAX_PARALLEL": "8", "AIRFOIL_ANOMALY_K": "2.5"},
    {"AIRFOIL_DATABASE_URL": "", "AIRFOIL_BLOB_URL": "memory://"},  # empty stays empty
    {"AIRFOIL_DURABILITY": "power", "AIRFOIL_HISTORY_RUNS": "10000"},
    {"AIRFOIL_SOMETHING_ELSE": "x", "OTHER_HOME": "/x"},  # not a field: ignored
]

BAD: list[dict[str, str]] = [
    {"AIRFOIL_GPUS": "two"},
    {"AIRFOIL_GPUS": "-1"},
    {"AIRFOIL_MAX_PARALLEL": ""},
    {"AIRFOIL_DURABILITY": "disk"},
    {"AIRFOIL_ANOMALY_K": "inf"},
    {"AIRFOIL_HISTORY_RUNS": "0"},
]


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    for key in list(os.environ):
        if key.lower().startswith("airfoil_"):
            monkeypatch.delenv(key)
    return monkeypatch


def _set(monkeypatch: pytest.MonkeyPatch, env: dict[str, str]) -> None:
    for key, value in env.items():
        monkeypatch.setenv(key, value)


@pytest.mark.parametrize("env", CASES)
def test_variables_read_as_base_settings_reads_them(
    clean_env: pytest.MonkeyPatch, env: dict[str, str]
) -> None:
    _set(clean_env, env)
    assert AirfoilSettings().model_dump() == _Twin().model_dump()


@pytest.mark.parametrize("env", BAD)
def test_bad_variables_fail_as_base_settings_fails(
    clean_env: pytest.MonkeyPatch, env: dict[str, str]
) -> None:
    _set(clean_env, env)
    with pytest.raises(ValidationError) as ours:
        AirfoilSettings()
    with pytest.raises(ValidationError) as theirs:
        _Twin()
    assert [e["loc"] for e in ours.value.errors()] == [e["loc"] for e in theirs.value.errors()]


def test_keywords_win_over_the_environment(clean_env: pytest.MonkeyPatch) -> None:
    clean_env.setenv("AIRFOIL_PROJECT", "from-env")
    clean_env.setenv("AIRFOIL_DATABASE_URL", "sqlite:///x.db")
    settings = AirfoilSettings(project="given", database_url=None)
    assert settings.project == "given" and settings.database_url is None
    assert settings.model_copy(update={"executor": "process"}).project == "given"


def test_the_environment_is_read_when_built_not_at_import(
    clean_env: pytest.MonkeyPatch,
) -> None:
    assert AirfoilSettings().project == "default"
    clean_env.setenv("AIRFOIL_PROJECT", "later")
    assert AirfoilSettings().project == "later"


def test_a_bad_executor_name_is_refused(clean_env: pytest.MonkeyPatch) -> None:
    clean_env.setenv("AIRFOIL_EXECUTOR", "not a name!")
    with pytest.raises(ValidationError, match="invalid executor name"):
        AirfoilSettings()


@pytest.mark.parametrize(
    ("variable", "value", "problem"),
    [
        ("AIRFOIL_DOMAIN", "bogus", "unknown domain 'bogus': use one of development, staging"),
        ("AIRFOIL_DOMAIN", "Production", "unknown domain 'Production'"),
        ("AIRFOIL_PROJECT", "a b/c", "invalid project name 'a b/c'"),
        ("AIRFOIL_PROJECT", "", "invalid project name ''"),
        ("AIRFOIL_PROJECT", "x" * 101, "use 1-100 letters"),
    ],
)
def test_a_project_or_domain_a_server_would_refuse_is_refused_locally(
    clean_env: pytest.MonkeyPatch, variable: str, value: str, problem: str
) -> None:
    """A local run recorded its runs (and cache entries, scoped by project and domain) under
    any domain or project name (AIRFOIL_DOMAIN=bogus ran and was recorded in 'bogus'), where a
    server answers 422: the same rule holds for both."""
    clean_env.setenv(variable, value)
    with pytest.raises(ValidationError, match=problem.replace("(", r"\(")):
        AirfoilSettings()


def test_the_names_a_server_accepts_are_accepted_locally(clean_env: pytest.MonkeyPatch) -> None:
    for domain in ("development", "staging", "production"):
        clean_env.setenv("AIRFOIL_DOMAIN", domain)
        clean_env.setenv("AIRFOIL_PROJECT", "team-a.v2_x")
        s = AirfoilSettings()
        assert (s.project, s.domain) == ("team-a.v2_x", domain)


_PLUGINS = """
import os, sys
from airfoil.settings import AirfoilSettings
AirfoilSettings()
from pydantic.plugin import _loader
print(_loader._plugins is None, os.environ.get("PYDANTIC_DISABLE_PLUGINS"))
"""


def test_building_the_settings_does_not_scan_for_pydantic_plugins() -> None:
    """The scan of every distribution's entry points cost every ``airfoil run`` ~4% (issue
    17, W5); the switch that skips it for Airfoil's own model is put back afterwards."""
    import subprocess
    import sys

    env = {k: v for k, v in os.environ.items() if k != "PYDANTIC_DISABLE_PLUGINS"}
    out = subprocess.run(
        [sys.executable, "-c", _PLUGINS], capture_output=True, text=True, env=env, check=True
    )
    assert out.stdout.split() == ["True", "None"]
