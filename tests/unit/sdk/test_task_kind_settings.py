"""The settings of the other task kinds and of schedules, of the wrong type, are a
``DefinitionError`` naming the setting when the task or schedule is defined.

Before 2026-12-06 (each case fails on main): a shell task's ``shell=123`` / ``quote="no"``,
an SQL task's ``compressed="yes"``, a container task's ``input_data_dir=5`` and a training
task's ``max_restarts=1.5`` or ``start_timeout_s=nan`` were stored in the task's config, and
every attempt then failed reading it back (``invalid ... task config``; NaN is written as JSON
``null``); a container ``command="echo hi"`` became the command ``e c h o ...``; an SQL task's
``output_type=int`` gave a table where the interface promised an int; a schedule's
``kickoff_time_input_arg=5`` was stored in the plan's spec; and ``map_task(min_success_ratio=
"abc")``, ``CronSchedule(None)``, ``CronSchedule(..., timezone=123)``, ``FixedRate(60)``,
``training_task(max_restarts="3", resources_per_worker={...})`` and an SQL ``database=5`` were
tracebacks (ValueError, AttributeError, TypeError)."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable
from typing import Any

import pytest

import airfoil as af
from airfoil.core.errors import DefinitionError

pytestmark = pytest.mark.unit


def _fn(x: int) -> int:
    return x + 1


@af.task
def inc(x: int) -> int:
    return x + 1


CASES: list[tuple[str, Callable[[], Any], str]] = [
    ("shell=123", lambda: af.shell_task("s", "echo hi", shell=123), "got `int` - at `$.shell`"),
    ("quote=no", lambda: af.shell_task("s", "echo hi", quote="no"), "got `str` - at `$.quote`"),
    ("debug=1", lambda: af.shell_task("s", "echo hi", debug=1), "got `int` - at `$.debug`"),
    (
        "shell location=5",
        lambda: af.shell_task("s", "echo hi", outputs={"n": (int, 5)}),
        "output 'n''s location is 5",
    ),
    (
        "sql compressed",
        lambda: af.sql_task("q", "SELECT 1", compressed="yes"),
        "got `str` - at `$.compressed`",
    ),
    (
        "sql literals",
        lambda: af.sql_task("q", "SELECT 1", literals="no"),
        "got `str` - at `$.literals`",
    ),
    ("sql database=5", lambda: af.sql_task("q", "SELECT 1", database=5), "database takes"),
    ("sql output=int", lambda: af.sql_task("q", "SELECT 1", output_type=int), "output_type is"),
    (
        "container command str",
        lambda: af.container_task("c", "img:1", "echo hi"),
        "give the command to run, a list of str",
    ),
    (
        "container input_data_dir",
        lambda: af.container_task("c", "img:1", ["echo"], input_data_dir=5),
        "got `int` - at `$.input_data_dir`",
    ),
    (
        "training max_restarts float",
        lambda: af.training_task(workers=2, max_restarts=1.5)(_fn),
        "got `float` - at `$.max_restarts`",
    ),
    (
        "training max_restarts str",
        lambda: af.training_task(workers=2, max_restarts="3")(_fn),
        "got `str` - at `$.max_restarts`",
    ),
    (
        "training start_timeout_s nan",
        lambda: af.training_task(workers=2, start_timeout_s=float("nan"))(_fn),
        "start_timeout_s must be a finite number, got nan",
    ),
    (
        "training resources_per_worker dict",
        lambda: af.training_task(workers=2, resources_per_worker={"cpu": 1})(_fn),
        "resources_per_worker takes af.Resources",
    ),
    (
        "map min_success_ratio str",
        lambda: af.map_task(inc, min_success_ratio="abc"),
        "min_success_ratio must be in (0, 1], got 'abc'",
    ),
    (
        "map min_success_ratio None",
        lambda: af.map_task(inc, min_success_ratio=None),
        "min_success_ratio must be in (0, 1], got None",
    ),
    ("cron None", lambda: af.CronSchedule(None), "the expression is a str"),
    (
        "cron tz",
        lambda: af.CronSchedule("0 3 * * *", timezone=123),
        "timezone takes an IANA name",
    ),
    (
        "cron kickoff",
        lambda: af.CronSchedule("0 3 * * *", kickoff_time_input_arg=5),
        "kickoff_time_input_arg names a datetime input (a str), not 5",
    ),
    ("fixed rate int", lambda: af.FixedRate(60), "the interval is a datetime.timedelta"),
    (
        "fixed rate past year 9999",  # activated, then every `schedules list` was a traceback
        lambda: af.FixedRate(dt.timedelta(days=999_999_999)),
        "between 1s and 100 years (3162240000s), got 8.64e+13s",
    ),
    (
        "fixed rate kickoff",
        lambda: af.FixedRate(dt.timedelta(hours=1), kickoff_time_input_arg=5),
        "kickoff_time_input_arg names",
    ),
]


@pytest.mark.parametrize(("make", "said"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_a_setting_of_the_wrong_type_is_refused_naming_it(
    make: Callable[[], Any], said: str
) -> None:
    with pytest.raises(DefinitionError, match=re.escape(said)):
        make()


def test_the_right_types_are_still_taken() -> None:
    sh = af.shell_task("ok_sh", "echo hi", shell="/bin/bash", quote=False, debug=True)
    assert sh.spec.config["shell"] == "/bin/bash" and sh.spec.config["quote"] is False
    q = af.sql_task("ok_q", "SELECT 1 AS one", compressed=False, literals=False)
    assert q.spec.config["literals"] is False
    c = af.container_task("ok_c", "img:1", ["echo", "hi"], input_data_dir="/in")
    assert c.spec.config["command"] == ["echo", "hi"]
    t = af.training_task(workers=2, max_restarts=1, start_timeout_s=5)(_fn)
    assert t.spec.config["max_restarts"] == 1 and t.spec.config["start_timeout_s"] == 5.0
    assert af.map_task(inc, min_success_ratio=1).map_spec.min_success_ratio == 1.0
    assert af.CronSchedule("0 3 * * *", kickoff_time_input_arg="at").spec.kickoff_time_input_arg
    assert af.FixedRate(dt.timedelta(hours=1)).spec.interval_s == 3600.0
