"""``AirfoilSettings`` reads ``AIRFOIL_*`` as pydantic-settings' ``BaseSettings`` did.

It is a plain class now (importing pydantic and building the model cost every ``airfoil
run`` about a quarter of its start-up, issue 17's W5); a twin ``BaseSettings`` with the same
fields, defaults and bounds is the reference for how each variable (and keyword) is read, so
the two cannot drift apart silently. The checks of Airfoil's own (executor names, projects,
domains, the blob cache) are tested below on their own.
"""

from __future__ import annotations

import pickle
import subprocess
import sys
import typing
from typing import Any

import pydantic
import pytest
from pydantic import ValidationError, create_model
from pydantic_settings import BaseSettings, SettingsConfigDict

from airfoil.core.errors import ConfigError
from airfoil.settings import FIELDS, AirfoilSettings, Field, SettingsError


class _Reference(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="AIRFOIL_", extra="ignore")


def _as_pydantic(field: Field) -> tuple[Any, Any]:
    bounds = {k: getattr(field, k) for k in ("ge", "le", "gt") if getattr(field, k) is not None}
    if field.annotation is float:
        bounds["allow_inf_nan"] = False
    if field.factory is not None:
        return field.annotation, pydantic.Field(default_factory=field.factory, **bounds)
    return field.annotation, pydantic.Field(default=field.default, **bounds)


_Twin: Any = create_model(  # type: ignore[call-overload]
    "_Twin", __base__=_Reference, **{name: _as_pydantic(f) for name, f in FIELDS.items()}
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
    with pytest.raises(SettingsError) as ours:
        AirfoilSettings()
    with pytest.raises(ValidationError) as theirs:
        _Twin()
    assert ours.value.field == theirs.value.errors()[0]["loc"][0]
    (variable,) = env
    assert ours.value.variable == variable and ours.value.from_env
    assert str(ours.value).startswith(f"bad {variable} setting: got {env[variable]!r}: give ")
    assert isinstance(ours.value, ConfigError)


#: Strings at the edges of pydantic's lax parsing of ints, floats, bools and literals.
TRICKY = [
    *("3", " 3 ", "+3", "-0", "0003", "3.0", "3.00", "3.", "3.5", "3.0e0", "1_000", " 1_000 "),
    *("1__0", "_1", "1e3", "0x10", "", " ", "\u0663", "inf", "-inf", "nan", "infinity", ".5"),
    *("5.", "1_0.5", "2.5", "0", "1", "2", "20", "10000", "10001", "19", "-1"),
    *("true", "True", "TRUE", "false", "yes", "No", "on", "OFF", "t", "F", "y", "n", " true"),
    *("process", "Process", "power ", "database", "auto", "null", "None"),
]
TYPED_FIELDS = [
    "gpus",
    "max_parallel",
    "worker_nice",
    "history_runs",
    "anomaly_min_history",
    "anomaly_k",
    "admission_lease_s",
    "blob_cache_local",
    "durability",
    "admission",
    "database_url",
    "scheduler_policy",
]


def _outcome(build: Any, field: str, **given: Any) -> tuple[str, Any]:
    try:
        value = getattr(build(**given), field)
    except (SettingsError, ValidationError):
        return "refused", None
    return "read", (type(value).__name__, value)


#: Where msgspec's lax conversion and pydantic's part (the reference): spellings pydantic
#: read that are refused here with what to give ("+3", "1_000", ".5", a bool given for a
#: number, bytes), and a few it refused that are read here as the same number ("1e3" as an
#: int) or with their blanks dropped (" true", "power "), and "null" read as unset (``None``)
#: for an optional number. Nothing is read as another value.
REFUSED_HERE = {"+3", "0003", "1_000", " 1_000 ", "3.", ".5", "5.", "1_0.5"}
READ_HERE = {"1e3", "3.0e0", " true", "-0", "power ", "null"}


def _differences(outcomes: list[tuple[Any, tuple[str, Any], tuple[str, Any]]]) -> list[Any]:
    """The cases where ours and the reference's outcomes differ beyond the documented ones."""
    differ = []
    for given, ours, theirs in outcomes:
        if ours == theirs:
            continue
        odd = isinstance(given, bool | bytes | bytearray)  # (True == 1: not by set lookup)
        if ours[0] == "refused" and (odd or (isinstance(given, str) and given in REFUSED_HERE)):
            continue
        if theirs[0] == "refused" and isinstance(given, str) and given in READ_HERE:
            continue
        differ.append((given, ours, theirs))
    return differ


@pytest.mark.parametrize("field", TYPED_FIELDS)
def test_each_variable_is_parsed_as_base_settings_parses_it(
    clean_env: pytest.MonkeyPatch, field: str
) -> None:
    outcomes = []
    for text in TRICKY:
        clean_env.setenv(f"AIRFOIL_{field.upper()}", text)
        outcomes.append((text, _outcome(AirfoilSettings, field), _outcome(_Twin, field)))
    assert _differences(outcomes) == []


@pytest.mark.parametrize("field", TYPED_FIELDS)
def test_each_keyword_is_taken_as_base_settings_takes_it(
    clean_env: pytest.MonkeyPatch, field: str
) -> None:
    values = [
        3,
        0,
        1,
        -1,
        3.0,
        3.5,
        1e20,
        True,
        False,
        None,
        "3",
        float("inf"),
        "process",
        b"3",
        b" 3 ",
        b"true",
        b"process",
        bytearray(b"3"),
        b"\xff",
        2.0**63,
    ]
    outcomes = []
    for value in values:
        ours = _outcome(AirfoilSettings, field, **{field: value})
        outcomes.append((value, ours, _outcome(_Twin, field, **{field: value})))
    assert _differences(outcomes) == []


def test_a_spelling_refused_here_names_what_to_give(clean_env: pytest.MonkeyPatch) -> None:
    clean_env.setenv("AIRFOIL_GPUS", "1_000")
    with pytest.raises(SettingsError, match="got '1_000': give a whole number of at least 0"):
        AirfoilSettings()
    clean_env.setenv("AIRFOIL_BLOB_CACHE_LOCAL", "Yes")
    clean_env.delenv("AIRFOIL_GPUS")
    assert AirfoilSettings().blob_cache_local is True


def test_every_default_passes_its_own_checks(clean_env: pytest.MonkeyPatch) -> None:
    defaults = AirfoilSettings().model_dump()
    assert AirfoilSettings(**defaults).model_dump() == defaults == _Twin().model_dump()


def test_the_fields_are_what_the_class_declares() -> None:
    """One list: :data:`FIELDS` is built from the class's annotated attributes, in their
    order, which then leave the class (every value is an instance's own)."""
    hints = typing.get_type_hints(AirfoilSettings)
    assert [k for k in hints if not k.startswith("_")] == list(FIELDS)
    assert all(FIELDS[name].annotation == hints[name] for name in FIELDS)
    assert not [name for name in FIELDS if name in vars(AirfoilSettings)]


def test_a_bad_keyword_names_the_setting_and_an_unknown_one_is_refused(
    clean_env: pytest.MonkeyPatch,
) -> None:
    with pytest.raises(SettingsError, match=r"^bad gpus= \(AIRFOIL_GPUS\) setting: got -1: give"):
        AirfoilSettings(gpus=-1)
    with pytest.raises(SettingsError, match="unknown setting 'gpu': the settings are home, "):
        AirfoilSettings(gpu=2)  # before: silently ignored
    with pytest.raises(SettingsError, match="unknown setting 'colour'"):
        AirfoilSettings().model_copy(update={"colour": "red"})


def test_repr_and_str_mask_credentials(clean_env: pytest.MonkeyPatch) -> None:
    clean_env.setenv("AIRFOIL_BLOB_URL", "s3://bucket/x?sig=abc")
    settings = AirfoilSettings(database_url="postgresql+psycopg://u:hunter2@db/airfoil")
    for shown in (repr(settings), str(settings)):
        assert "hunter2" not in shown and "abc" not in shown
        assert "postgresql+psycopg://u:***@db/airfoil" in shown and "sig=***" in shown
    assert repr(settings).startswith("AirfoilSettings(home=")
    with pytest.raises(SettingsError) as bad:
        AirfoilSettings(blob_cache_dir="relative", database_url="x://u:hunter2@h/d")
    assert "hunter2" not in str(bad.value)
    with pytest.raises(SettingsError) as typed:
        AirfoilSettings(gpus="postgresql://u:hunter2@h/d")
    assert "hunter2" not in str(typed.value)


def test_the_json_key_is_stable_and_a_copy_is_equal(clean_env: pytest.MonkeyPatch) -> None:
    a, b = AirfoilSettings(home="/h"), AirfoilSettings(home="/h")
    assert a == b and a.model_dump_json() == b.model_dump_json()
    assert a.model_dump_json().startswith('{"home":"/h","database_url":null,')
    c = a.model_copy(update={"gpus": "2"})
    assert c.gpus == 2 and c != a and a.gpus is None
    assert c.model_fields_set == {"home", "gpus"} and a.model_fields_set == {"home"}
    assert pickle.loads(pickle.dumps(c)) == c


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
    with pytest.raises(
        SettingsError, match=r"^bad AIRFOIL_EXECUTOR setting: invalid executor name"
    ):
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
    with pytest.raises(SettingsError, match=problem.replace("(", r"\(")):
        AirfoilSettings()


def test_the_names_a_server_accepts_are_accepted_locally(clean_env: pytest.MonkeyPatch) -> None:
    for domain in ("development", "staging", "production"):
        clean_env.setenv("AIRFOIL_DOMAIN", domain)
        clean_env.setenv("AIRFOIL_PROJECT", "team-a.v2_x")
        s = AirfoilSettings()
        assert (s.project, s.domain) == ("team-a.v2_x", domain)


_IMPORTS = """
import sys
from airfoil.settings import AirfoilSettings
AirfoilSettings()
print(sorted(m for m in sys.modules if m.split(".")[0] in ("pydantic", "pydantic_core")))
"""


def test_building_the_settings_imports_no_pydantic() -> None:
    """Importing pydantic and building the settings' validator cost every ``airfoil run``
    ~68 ms of ~280 ms (issue 17, W5); on main this printed pydantic's ~100 modules."""
    out = subprocess.run(
        [sys.executable, "-c", _IMPORTS], capture_output=True, text=True, check=True
    )
    assert out.stdout.strip() == "[]"
