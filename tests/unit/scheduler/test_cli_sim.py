"""``airfoil sim`` through Typer's test runner, on a fresh app it registers into."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from airfoil.cli._sim import register
from airfoil.scheduler.sim import SUMMARY_KEYS

pytestmark = pytest.mark.unit


@pytest.fixture
def app() -> typer.Typer:
    app = typer.Typer()

    @app.callback()
    def main() -> None:
        """Test app."""

    register(app)
    return app


@pytest.fixture
def trace(tmp_path: Path) -> Path:
    path = tmp_path / "trace.csv"
    path.write_text(
        "timestamp,duration,num_gpus,gpu_time,cluster\n"
        "2017-11-06 00:00:00,100.0,1,100.0,a\n"
        "2017-11-06 00:00:00,100.0,2,200.0,b\n"
        "2017-11-06 00:00:10,50.0,1,50.0,a\n"
    )
    return path


def test_json_compare_prints_one_object_keyed_by_policy(app: typer.Typer, trace: Path) -> None:
    result = CliRunner().invoke(
        app,
        [
            "sim",
            "--trace",
            str(trace),
            "--nodes",
            "1x2gpu",
            "--compare",
            "fifo,fifo-skip",
            "--json",
        ],
    )
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert list(data) == ["fifo", "fifo-skip"]
    for figures in data.values():
        assert set(SUMMARY_KEYS) <= set(figures)
    # load 1.0 on 2 GPUs stretches the 10 s span 17.5x: j2 arrives at 175 s, while j1 holds
    # both GPUs (100-200 s), and runs 200-250 s
    assert data["fifo"]["avg_jct_s"] == pytest.approx((100 + 200 + 75) / 3)
    assert data["fifo"]["large_gang_avg_wait_s"] is None


def test_single_policy_prints_a_table(app: typer.Typer, trace: Path) -> None:
    result = CliRunner().invoke(
        app, ["sim", "--trace", str(trace), "--policy", "las", "--nodes", "1x2gpu"]
    )
    assert result.exit_code == 0, result.output
    assert "trace.csv: 3 jobs on 1x2gpu" in result.stdout
    assert "las" in result.stdout


def test_compare_writes_the_plot(app: typer.Typer, trace: Path, tmp_path: Path) -> None:
    png = tmp_path / "out.png"
    result = CliRunner().invoke(
        app,
        [
            "sim",
            "--trace",
            str(trace),
            "--nodes",
            "1x2gpu",
            "--compare",
            "fifo,backfill,fair,las,airfoil",
            "--plot",
            str(png),
            "--estimate-error",
            "1",
            "--seed",
            "3",
            "--restart-penalty",
            "30",
        ],
    )
    assert result.exit_code == 0, result.output
    assert png.read_bytes()[:4] == b"\x89PNG"
    for name in ("fifo", "backfill", "fair", "las", "airfoil"):
        assert name in result.stdout
    assert f"wrote {png}" in result.stderr


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--trace", "/nonexistent/trace.csv"], "trace file not found"),
        (["--nodes", "eight"], "bad nodes spec 'eight'"),
        (["--policy", "round-robin"], "unknown scheduling policy 'round-robin'"),
        (["--compare", "fifo,bogus"], "unknown scheduling policy 'bogus'"),
        (["--estimate-error", "3"], "estimate error must be within 0..1"),
        (["--load", "-1"], "load must be a positive number"),
        (["--nodes", "1x1gpu"], "needs 2 GPUs; the cluster has 1"),
    ],
)
def test_bad_arguments_exit_non_zero_with_a_clear_message(
    app: typer.Typer, trace: Path, args: list[str], message: str
) -> None:
    full = ["sim", "--trace", str(trace), *args] if args[0] != "--trace" else ["sim", *args]
    result = CliRunner().invoke(app, full)
    assert result.exit_code == 2
    assert message in " ".join(result.stderr.split())
    assert "Traceback" not in result.output
    assert isinstance(result.exception, SystemExit)


#: A trace's cluster name that would forge terminal output: a one-byte CSI (C1), an ESC, a
#: right-to-left override (adv20).
FORGING = "a\x9b2J\x1b[1A\u202eb"


@pytest.mark.parametrize(
    "extra", [["--json"], [], ["--json", "--loads", "0.5,1"], ["--loads", "1"]]
)
def test_a_traces_names_are_printed_escaped(
    app: typer.Typer, tmp_path: Path, extra: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """``--json`` stays JSON that decodes to the same names; tables show them escaped."""
    monkeypatch.chdir(tmp_path)  # a comparison's plot
    path = tmp_path / "trace.csv"
    path.write_text(
        "timestamp,duration,num_gpus,gpu_time,cluster\n"
        f"2017-11-06 00:00:00,100.0,1,100.0,{FORGING}\n"
        "2017-11-06 00:00:05,50.0,1,50.0,plain\n",
        encoding="utf-8",
    )
    args = ["sim", "--trace", str(path), "--nodes", "1x2gpu", "--compare", "fifo,las", *extra]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    for char in ("\x9b", "\x1b", "\u202e"):
        assert char not in result.stdout, repr(result.stdout)
    if "--json" in extra:
        assert FORGING in _strings(json.loads(result.stdout))


def _strings(value: object) -> set[str]:
    """Every key and string value in decoded JSON."""
    if isinstance(value, dict):
        return set(value) | {s for v in value.values() for s in _strings(v)}
    if isinstance(value, list):
        return {s for v in value for s in _strings(v)}
    return {value} if isinstance(value, str) else set()
