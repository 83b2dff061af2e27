"""Launch plans: definition checks, input merging (fixed inputs), local calls, notifications."""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Iterator
from pathlib import Path

import pytest

import airfoil as af
from airfoil.core.errors import DefinitionError, ExecutionFailedError, InvalidInputError
from airfoil.core.launch_plans import merge_launch_inputs
from airfoil.core.records import Interface, Param, TypeSpec
from airfoil.engine.launch_plans import notification_text, notify
from airfoil.sdk._launch_plan import CronSchedule, FixedRate, LaunchPlan, LogNotification, Webhook

pytestmark = pytest.mark.unit


@pytest.fixture(autouse=True)
def _memory_store(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[None]:
    monkeypatch.setenv("AIRFOIL_DATABASE_URL", "memory://")
    monkeypatch.setenv("AIRFOIL_BLOB_URL", str(tmp_path / "blobs"))
    yield


@af.task
def scale(x: int, factor: int) -> int:
    if factor < 0:
        raise ValueError("negative factor")
    return x * factor


@af.workflow
def scaled(x: int, factor: int = 2, note: str = "") -> int:
    return scale(x=x, factor=factor)


@af.task
def stamp(when: dt.datetime, tag: str) -> str:
    return f"{tag}:{when.isoformat()}"


@af.workflow
def stamped(when: dt.datetime, tag: str) -> str:
    return stamp(when=when, tag=tag)


# --- the pure merge rule ----------------------------------------------------------------------

IFACE = Interface(
    inputs=(
        Param(name="a", type=TypeSpec(kind="int")),
        Param(name="b", type=TypeSpec(kind="int")),
        Param(name="c", type=TypeSpec(kind="int"), has_default=True),
    )
)


def test_merge_takes_defaults_then_given_then_fixed() -> None:
    merged = merge_launch_inputs(
        IFACE, launch_plan="p", defaults={"a": 1, "c": 3}, fixed={"b": 2}, given={"a": 10}
    )
    assert merged == {"a": 10, "b": 2, "c": 3}


def test_merge_refuses_overriding_a_fixed_input_by_name() -> None:
    with pytest.raises(InvalidInputError, match=r"launch plan 'p' fixes input\(s\) 'b'"):
        merge_launch_inputs(IFACE, launch_plan="p", defaults={}, fixed={"b": 2}, given={"b": 2})


def test_merge_refuses_unknown_and_missing_inputs() -> None:
    with pytest.raises(InvalidInputError, match=r"has no input.*'zz'"):
        merge_launch_inputs(IFACE, launch_plan="p", defaults={}, fixed={}, given={"zz": 1})
    with pytest.raises(InvalidInputError, match=r"needs input\(s\) 'a' \(int\), 'b'"):
        merge_launch_inputs(IFACE, launch_plan="p", defaults={}, fixed={}, given={})


# --- definition -------------------------------------------------------------------------------


def test_get_or_create_returns_the_same_plan_and_refuses_a_different_one() -> None:
    first = LaunchPlan.get_or_create(scaled, "lp_same", default_inputs={"factor": 3})
    assert LaunchPlan.get_or_create(scaled, "lp_same", default_inputs={"factor": 3}) is first
    assert LaunchPlan.get("lp_same") is first
    with pytest.raises(DefinitionError, match="already exists"):
        LaunchPlan.get_or_create(scaled, "lp_same", default_inputs={"factor": 4})
    default = LaunchPlan.get_or_create(scaled)
    assert default.name == scaled.name and default.spec.workflow == scaled.spec


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"default_inputs": {"nope": 1}}, "does not have"),
        ({"fixed_inputs": {"factor": "two"}}, r"fixed_inputs\['factor'\] does not fit"),
        ({"default_inputs": {"x": 1}, "fixed_inputs": {"x": 1}}, "both default and fixed"),
        ({"schedule": FixedRate(dt.timedelta(hours=1))}, r"no value for required input\(s\) 'x'"),
        (
            {
                "default_inputs": {"x": 1},
                "schedule": CronSchedule("0 3 * * *", kickoff_time_input_arg="note"),
            },
            "must name a datetime input",
        ),
    ],
)
def test_definition_errors(kwargs: dict[str, object], match: str) -> None:
    with pytest.raises(DefinitionError, match=match):
        LaunchPlan(scaled, "lp_bad", **kwargs)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("url", "timeout_s", "match"),
    [
        ("https://", 5.0, "with a host"),
        ("http:///path-only", 5.0, "with a host"),
        ("https://hooks.example.com/x", 0.0, "timeout_s must be above 0"),
        ("https://hooks.example.com/x", -1.0, "timeout_s must be above 0"),
        ("https://hooks.example.com/x", float("nan"), "timeout_s must be above 0"),
        ("https://hooks.example.com/x", 1e9, "at most 60 seconds"),
    ],
)
def test_a_webhook_needs_a_host_and_a_bounded_timeout(
    url: str, timeout_s: float, match: str
) -> None:
    # Before, only the scheme was checked: a webhook without a host failed at every end of
    # the plan's runs, and one with a timeout of 1e9 s could hold the process (a server's
    # driver slot) that ended the run for as long as the endpoint stalled.
    with pytest.raises(DefinitionError, match=match):
        Webhook(url, timeout_s=timeout_s)


def test_schedule_and_notification_definition_errors() -> None:
    with pytest.raises(DefinitionError, match="invalid cron"):
        CronSchedule("0 25 * * *")
    with pytest.raises(DefinitionError, match="unknown time zone"):
        CronSchedule("0 3 * * *", timezone="Europe/Atlantis")
    # Debian cron's zone prefix (flytekit's CronSchedule takes it): main said "six fields (a
    # seconds field) are not supported"
    with pytest.raises(
        DefinitionError, match=r"as timezone= instead, CronSchedule\('0 3 \* \* \*', timezone="
    ):
        CronSchedule("CRON_TZ=Europe/Paris 0 3 * * *")
    with pytest.raises(DefinitionError, match=r"between 1s and 100 years .*got 0\.01s"):
        FixedRate(dt.timedelta(milliseconds=10))
    with pytest.raises(DefinitionError, match="http"):
        Webhook("ftp://x")
    with pytest.raises(DefinitionError, match="phases"):
        LogNotification(phases=("running",))
    with pytest.raises(DefinitionError, match="cannot also be a fixed input"):
        LaunchPlan(
            stamped,
            "lp_kick_fixed",
            fixed_inputs={"when": dt.datetime(2026, 1, 1, tzinfo=dt.UTC), "tag": "t"},
            schedule=CronSchedule("0 3 * * *", kickoff_time_input_arg="when"),
        )


def test_the_spec_carries_everything_the_scheduler_needs() -> None:
    plan = LaunchPlan(
        stamped,
        "lp_spec",
        fixed_inputs={"tag": "nightly"},
        schedule=CronSchedule("0 3 * * *", timezone="Europe/Paris", kickoff_time_input_arg="when"),
        notifications=[Webhook("http://127.0.0.1:1/h", phases=["failed"]), LogNotification()],
        labels={"team": "ml"},
    )
    spec = plan.spec
    assert spec.workflow == stamped.spec
    assert set(spec.fixed_inputs) == {"tag"} and spec.fixed_inputs["tag"].inline == b'"nightly"'
    assert spec.schedule is not None and spec.schedule.kickoff_time_input_arg == "when"
    assert [n.kind for n in spec.notifications] == ["webhook", "log"]
    assert spec.notifications[0].phases == ("failed",)
    assert spec.labels == {"team": "ml"}


# --- running locally --------------------------------------------------------------------------


def test_calling_a_plan_merges_defaults_and_fixed_inputs() -> None:
    plan = LaunchPlan(scaled, "lp_call", default_inputs={"x": 5}, fixed_inputs={"factor": 3})
    assert plan() == 15
    assert plan(x=7) == 21
    from airfoil.local import get_runtime

    (latest, *_) = get_runtime().meta.list_executions(limit=1)
    assert latest.labels["launch_plan"] == "lp_call"


def test_calling_a_plan_with_a_fixed_input_is_an_invalid_input_error() -> None:
    plan = LaunchPlan(scaled, "lp_fixed", default_inputs={"x": 5}, fixed_inputs={"factor": 3})
    with pytest.raises(InvalidInputError, match="'factor'"):
        plan(factor=4)
    with pytest.raises(InvalidInputError, match="expects int"):
        plan(x="five")


def test_log_notifications_on_terminal_phases(caplog: pytest.LogCaptureFixture) -> None:
    plan = LaunchPlan(
        scaled,
        "lp_log",
        default_inputs={"x": 1},
        notifications=[LogNotification(phases=("failed",))],
    )
    caplog.set_level(logging.INFO, logger="airfoil.notifications")
    assert plan(factor=2) == 2
    assert not caplog.records  # only failures are reported
    with pytest.raises(ExecutionFailedError):
        plan(factor=-1)
    (line,) = [r for r in caplog.records if r.name == "airfoil.notifications"]
    assert line.levelno == logging.WARNING
    assert "launch plan lp_log" in line.getMessage() and "failed" in line.getMessage()
    assert "negative factor" in line.getMessage()


def test_a_failing_webhook_never_fails_the_execution(caplog: pytest.LogCaptureFixture) -> None:
    posts: list[tuple[str, dict[str, object]]] = []

    def refuse(url: str, payload: dict[str, object], timeout_s: float) -> None:
        posts.append((url, payload))
        raise ConnectionRefusedError("nobody listens")

    plan = LaunchPlan(
        scaled, "lp_hook", default_inputs={"x": 2}, notifications=[Webhook("http://h/x")]
    )
    from airfoil.local import get_runtime

    assert plan() == 4
    (record, *_) = get_runtime().meta.list_executions(limit=1)
    assert notify(plan.spec, record, poster=refuse) == []
    assert len(posts) == 2  # one retry
    assert posts[0][1] == {"text": notification_text(plan.spec, record)}
    assert "webhook http://h/... failed after 2 tries" in caplog.text


def test_a_failed_webhooks_log_line_holds_no_credential(caplog: pytest.LogCaptureFixture) -> None:
    """On main the line kept the URL's user:password (only its path, Slack's secret, was cut)."""

    def refuse(url: str, payload: dict[str, object], timeout_s: float) -> None:
        raise ConnectionRefusedError("nobody listens")

    hook = Webhook("https://bot:s3cret@hooks.example:8443/T0/B0/xyz?token=abc")
    plan = LaunchPlan(scaled, "lp_cred_hook", default_inputs={"x": 2}, notifications=[hook])
    from airfoil.local import get_runtime

    assert plan() == 4
    (record, *_) = get_runtime().meta.list_executions(limit=1)
    assert notify(plan.spec, record, poster=refuse) == []
    assert "webhook https://hooks.example:8443/... failed after 2 tries" in caplog.text
    assert "s3cret" not in caplog.text and "bot" not in caplog.text and "abc" not in caplog.text


def test_prepare_launch_for_plans_and_plain_workflows(caplog: pytest.LogCaptureFixture) -> None:
    from airfoil.engine.launch_plans import after_drive, prepare_launch
    from airfoil.local import get_runtime

    rt = get_runtime()
    plan = LaunchPlan(
        scaled,
        "lp_prepare",
        default_inputs={"x": 5},
        fixed_inputs={"factor": 3},
        labels={"team": "t"},
        notifications=[LogNotification()],
    )
    spec, values, labels = prepare_launch(plan, {"x": 6}, rt)
    assert spec == scaled.spec and set(values) == {"x", "factor", "note"}
    assert labels == {"team": "t", "launch_plan": "lp_prepare"}
    with pytest.raises(InvalidInputError, match="fixes"):
        prepare_launch(plan, {"factor": 1}, rt)
    spec, values, labels = prepare_launch(scaled, {"x": 1}, rt)
    assert spec == scaled.spec and labels == {} and set(values) == {"x", "factor", "note"}

    engine = rt.engine()
    record = engine.drive(engine.launch(spec, values).id)
    caplog.set_level(logging.INFO, logger="airfoil.notifications")
    after_drive(scaled, record)
    assert caplog.records == []
    after_drive(plan, record)
    assert "launch plan lp_prepare" in caplog.text
