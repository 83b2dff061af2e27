"""A newcomer's first hour with the CLI: inputs named like options, the inputs page, errors
that keep their words, ids and logs a user can reach, and the hints that say what next."""

from __future__ import annotations

import re
import textwrap
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.e2e

GREET = textwrap.dedent(
    '''
    import enum
    import airfoil as af

    class Tone(enum.Enum):
        WARM = "warm"
        COLD = "cold"

    @af.task
    def say(name: str, json: bool, remote: int, server: str, executor: str, tone: Tone) -> str:
        return f"{name}|{json}|{remote}|{server}|{executor}|{tone.name}"

    @af.workflow
    def greet(
        name: str = "world",
        json: bool = False,
        remote: int = 1,
        server: str = "s",
        executor: str = "e",
        tone: Tone = Tone.WARM,
    ) -> str:
        """Greet someone, in a tone.

        Args:
            name: who to greet.
            tone: how warmly.
        """
        return say(name=name, json=json, remote=remote, server=server, executor=executor,
                   tone=tone)

    @af.task
    def boom(x: int) -> int:
        raise ValueError(f"bad [x] {x}")

    @af.workflow
    def broken(x: int = 1) -> int:
        return boom(x=x)

    @af.task
    def item(x: int) -> int:
        print(f"item {x} says hi")
        return x

    @af.task
    def many() -> list[int]:
        return list(range(15))

    @af.workflow
    def fan() -> list[int]:
        return af.map_task(item)(x=many())

    @af.task(cache=True)
    def load(n: int) -> int:
        return n

    @af.workflow
    def cached(n: int = 1) -> int:
        return load(n=n)
    '''
)

BAD_WIRING = textwrap.dedent(
    """
    import airfoil as af

    @af.task
    def as_text(x: int) -> str:
        return str(x)

    @af.task
    def double(x: int) -> int:
        return 2 * x

    @af.workflow
    def wired(x: int = 1) -> int:
        return double(x=as_text(x=x))
    """
)


@pytest.fixture
def greet(tmp_path: Path) -> str:
    (tmp_path / "greet.py").write_text(GREET)
    return "greet.py"


def test_inputs_named_like_run_options_reach_the_workflow(cli: Any, greet: str) -> None:
    r = cli(
        "run",
        "--json",
        "--name",
        "e1",
        greet,
        "greet",
        "--name",
        "ada",
        "--json",
        "--remote",
        "3",
        "--server",
        "srv",
        "--executor",
        "exe",
        "--tone",
        "cold",  # an enum member's value, not only its name
    )
    assert r.code == 0, r.err
    data = r.json()
    assert data["name"] == "e1"
    assert data["outputs"] == {"o0": "ada|True|3|srv|exe|COLD"}


def test_a_run_option_after_the_workflow_says_where_it_goes(cli: Any, greet: str) -> None:
    r = cli("run", greet, "broken", "--json")
    assert r.code == 2
    assert "error: " in r.err and "--json is an option of the command" in r.err
    assert "before the file" in r.err


def test_inputs_page_lists_inputs_types_defaults_and_docs(cli: Any, greet: str) -> None:
    r = cli("run", greet, "greet", "--help")
    assert r.code == 0, r.err
    out = r.out
    assert "Greet someone, in a tone." in out and "Args:" not in out
    for flag, typ, default in [
        ("--name", "str", "'world'"),
        ("--remote", "int", "1"),
        ("--tone", "Tone", "WARM"),
    ]:
        line = next(ln for ln in out.splitlines() if ln.strip().startswith(flag + " "))
        assert typ in line and f"default: {default}" in line, line
    assert "--json / --no-json" in out
    assert "who to greet." in out and "how warmly." in out
    assert "WARM, COLD" in out and "warm, cold" in out


def test_flags_take_no_value_in_help_and_version_prints(cli: Any) -> None:
    r = cli("run", "--help")
    assert r.code == 0 and "--json" in r.out and "<bool>" not in r.out
    v = cli("--version")
    assert v.code == 0 and v.out.startswith("airfoil ")


def test_usage_and_user_errors_share_one_form_and_exit_2(cli: Any, greet: str) -> None:
    unknown = cli("run", "--bogus", greet, "greet")
    assert unknown.code == 2 and "error: No such option: --bogus" in unknown.err
    assert "╭" not in unknown.err  # no boxed panel, the same line as every other error
    assert cli("run", "--name", "d1", greet, "greet").code == 0
    dup = cli("run", "--name", "d1", greet, "greet")
    assert dup.code == 2
    assert "error: an execution named 'd1' already exists" in dup.err
    assert "ConflictError" not in dup.err


def test_definition_error_keeps_its_location_and_user_words(cli: Any, tmp_path: Path) -> None:
    (tmp_path / "wiring.py").write_text(BAD_WIRING)
    r = cli("run", "wiring.py", "wired", env={"COLUMNS": ""})  # piped, no width given
    assert r.code == 2
    (line,) = [ln for ln in r.err.splitlines() if ln.startswith("error:")]
    assert "the output of as_text (str)" in line and "Promise(" not in line
    assert "wiring.py:14" in line  # the [in workflow ... at call ...] part is not eaten


def test_failure_keeps_brackets_and_footer_suggests_recover(cli: Any, greet: str) -> None:
    r = cli("run", "--name", "b1", greet, "broken", env={"COLUMNS": ""})
    assert r.code == 1
    assert "bad [x] 1" in r.err
    assert "airfoil executions recover b1" in r.err
    assert "executions resume b1" not in r.err
    again = cli("executions", "resume", "b1")
    assert again.code == 1 and "nothing to resume" in again.err and "recover b1" in again.err


def test_resume_of_a_finished_execution_has_nothing_to_do(cli: Any, greet: str) -> None:
    assert cli("run", "--name", "ok1", greet, "greet").code == 0
    r = cli("executions", "resume", "ok1")
    assert r.code == 0
    assert "already ended (succeeded): nothing to resume" in r.err
    assert "resumes" not in r.err


def test_executions_list_shows_whole_ids_when_piped(cli: Any, greet: str) -> None:
    long_id = "a-rather-long-execution-name-that-a-user-copies-0123456789"
    assert cli("run", "--name", long_id, greet, "greet").code == 0
    for columns in ("", "60"):  # piped without a width, and a narrow terminal width
        r = cli("executions", "list", env={"COLUMNS": columns})
        assert r.code == 0
        assert long_id in r.out, r.out


def test_map_item_logs_are_reachable_and_sorted_naturally(cli: Any, greet: str) -> None:
    assert cli("run", "--name", "f1", greet, "fan").code == 0
    whole = cli("logs", "f1", "n1")
    assert whole.code == 0, whole.err
    headers = [ln.split()[1] for ln in whole.out.splitlines() if ln.startswith("== ")]
    assert headers == [f"n1[{i}]" for i in range(15)]
    one = cli("logs", "f1", "n1[13]")
    assert one.code == 0 and "item 13 says hi" in one.out and "item 12" not in one.out
    every = cli("logs", "f1")
    order = [ln.split()[1] for ln in every.out.splitlines() if ln.startswith("== ")]
    assert order == ["n0", *headers]
    as_json = cli("logs", "f1", "n1[2]", "--json").json()
    log = as_json[0].pop("log")
    assert as_json == [{"node": "n1[2]", "attempt": 1, "phase": "succeeded"}]
    # one entry: the printed line with its time and level (airfoil.core.log_lines)
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT[\d:.]+Z OUT      item 2 says hi\n", log), log
    missing = cli("logs", "f1", "n9")
    assert missing.code == 2 and "error: node 'n9'" in missing.err
    # an attempt the item never made: an error naming the ones it made (was "no attempts
    # match" on stderr and exit code 0, as if the log were empty)
    no_try = cli("logs", "--attempt", "3", "f1", "n1[2]")
    assert no_try.code == 2 and no_try.out == ""
    assert "node n1[2] of execution f1 has no attempt 3: its attempts are 1" in no_try.err


def test_cache_clear_accepts_a_short_task_name_or_lists_names(cli: Any, greet: str) -> None:
    assert cli("run", greet, "cached", "--n", "1").code == 0
    assert cli("run", greet, "cached", "--n", "2").code == 0
    nope = cli("cache", "clear", "--task", "nope", "--yes")
    assert nope.code == 2 and "greet.load" in nope.err
    r = cli("cache", "clear", "--task", "load", "--yes")
    assert r.code == 0 and "deleted 2 cache entries" in r.err
    assert cli("cache", "list", "--json").json() == []


def test_cache_explain_has_json(cli: Any, greet: str) -> None:
    run = cli("run", "--json", greet, "cached", "--n", "5").json()
    r = cli("cache", "explain", run["execution_id"], "n0", "--json")
    assert r.code == 0, r.err
    data = r.json()
    assert data["cache"] == "put" and data["parts"]["task"].endswith("greet.load")


def test_dict_outputs_keep_their_key_order(cli: Any, tmp_path: Path) -> None:
    (tmp_path / "stats.py").write_text(
        textwrap.dedent(
            """
            import airfoil as af

            @af.task
            def stats(n: int) -> dict[str, float]:
                return {"mean": n / 2, "max": float(n), "count": float(n)}

            @af.workflow
            def wf(n: int = 10) -> dict[str, float]:
                return stats(n=n)
            """
        )
    )
    r = cli("run", "--json", "stats.py", "wf")
    assert r.code == 0, r.err
    assert list(r.json()["outputs"]["o0"]) == ["mean", "max", "count"]
    human = cli("run", "stats.py", "wf")
    assert human.out.index('"mean"') < human.out.index('"max"') < human.out.index('"count"')


GATE = textwrap.dedent(
    """
    from datetime import timedelta
    import airfoil as af

    @af.workflow
    def waits() -> float:
        return af.wait_for_input("v", timeout=timedelta(seconds=120), expected_type=float)
    """
)


def test_a_killed_run_shows_interrupted_once_its_lease_lapsed(
    cli: Any, tmp_path: Path, _airfoil_home: Path
) -> None:
    import os
    import signal
    import subprocess
    import sys
    import time

    (tmp_path / "waits.py").write_text(GATE)
    env = dict(os.environ, AIRFOIL_HOME=str(_airfoil_home))
    proc = subprocess.Popen(
        [sys.executable, "-m", "airfoil.cli", "run", "--name", "k1", "waits.py", "waits"],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    deadline = time.time() + 60
    while time.time() < deadline:
        r = cli("executions", "show", "k1", "--json")
        if r.code == 0 and r.json()["phase"] == "running":
            break
        time.sleep(0.2)
    driven = cli("executions", "show", "k1", "--json").json()
    assert driven["phase"] == "running" and driven["interrupted"] is False
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait(timeout=10)
    # The dead driver's lease still holds for its TTL: still shown as running meanwhile...
    assert cli("executions", "show", "k1", "--json").json()["interrupted"] is False
    # ...and once it has lapsed (aged here rather than waiting 30 s), as interrupted.
    from airfoil.local import get_runtime
    from airfoil.settings import AirfoilSettings

    meta = get_runtime(AirfoilSettings(home=str(_airfoil_home))).meta
    k1 = meta.resolve_execution("default", "k1")
    owner, _ = meta.get_lease(k1)
    meta.release_lease(k1, owner)
    assert meta.acquire_lease(k1, owner, time.time() - 120, 30.0)
    listed = cli("executions", "list", "--json").json()
    assert [(e["name"], e["phase"], e["interrupted"]) for e in listed] == [("k1", "running", True)]
    table = cli("executions", "list")
    assert "interrupted" in table.out


SLOW = textwrap.dedent(
    """
    import os, time
    import airfoil as af

    @af.task
    def slow(marker: str) -> int:
        print("step one done", flush=True)
        open(marker, "w").close()
        time.sleep(120)
        return 1

    @af.workflow
    def wf(marker: str) -> int:
        return slow(marker=marker)
    """
)


@pytest.mark.parametrize("how", ["SIGINT", "SIGKILL"])
def test_an_interrupted_attempt_keeps_its_log_so_far(
    cli: Any, tmp_path: Path, _airfoil_home: Path, how: str
) -> None:
    import os
    import signal
    import subprocess
    import sys
    import time

    (tmp_path / "slow.py").write_text(SLOW)
    marker = tmp_path / "started"
    env = dict(os.environ, AIRFOIL_HOME=str(_airfoil_home))
    cmd = ["run", "--name", "s1", "slow.py", "wf", "--marker", str(marker)]
    proc = subprocess.Popen(
        [sys.executable, "-m", "airfoil.cli", *cmd],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    deadline = time.time() + 60
    while not marker.exists() and time.time() < deadline:
        time.sleep(0.05)
    time.sleep(1.0)  # past the running log's first copy (every 0.5 s)
    os.killpg(proc.pid, getattr(signal, how))
    _, err = proc.communicate(timeout=30)
    if how == "SIGINT":
        assert proc.returncode == 130 and "airfoil executions resume s1" in err
    logs = cli("logs", "s1", "n0")
    assert logs.code == 0, logs.err
    assert "step one done" in logs.out
    assert "(no output)" not in logs.out


@pytest.mark.parametrize(
    "command",
    [
        ("run", "--remote", "--server", "http://127.0.0.1:9"),
        ("schedules", "activate"),
    ],
    ids=["run --remote", "schedules activate"],
)
def test_a_file_that_fails_to_import_says_why_where_a_plan_is_also_looked_for(
    cli: Any, tmp_path: Path, command: tuple[str, ...]
) -> None:
    """These commands also look for a launch plan created under its own name; only a file
    that imported is searched so: an import error (or a missing file) is said as it is."""
    (tmp_path / "broken.py").write_text("import airfoil as af\nimport no_such_module_o9\n")
    r = cli(*command, "broken.py", "wf")
    assert r.code == 2, r.err
    assert "importing broken.py failed: ModuleNotFoundError" in r.err, r.err
    assert "no_such_module_o9" in r.err
    r = cli(*command, "missing.py", "wf")
    assert r.code == 2 and "no such file: missing.py" in r.err, r.err
