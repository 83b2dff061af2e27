"""Every policy at every load in one run: the sweep, its ratios, plots and ``--loads``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import typer
from typer.testing import CliRunner

from airfoil.cli._sim import register
from airfoil.scheduler import SimulationError, UnknownPolicyError
from airfoil.scheduler.sim import RATIO_KEYS, SimConfig, load_trace, plot_sweep, sweep, sweep_report

pytestmark = pytest.mark.unit


@pytest.fixture
def three_jobs(tmp_path: Path) -> Path:
    # j0: 1 GPU for 100 s; j1: 2 GPUs for 100 s; j2 arrives at 10 s, 1 GPU for 50 s
    path = tmp_path / "t.csv"
    path.write_text(
        "timestamp,duration,num_gpus,gpu_time,cluster\n"
        "2017-11-06 00:00:00,100.0,1,100.0,a\n"
        "2017-11-06 00:00:00,100.0,2,200.0,b\n"
        "2017-11-06 00:00:10,50.0,1,50.0,a\n"
    )
    return path


@pytest.fixture
def app() -> typer.Typer:
    app = typer.Typer()

    @app.callback()
    def main() -> None:
        """Test app."""

    register(app)
    return app


def test_sweep_reports_every_policy_at_every_load_with_ratios(three_jobs: Path) -> None:
    results = sweep(
        load_trace(three_jobs), ["fifo", "fifo-skip"], [1.0, 2.0], SimConfig(nodes="1x2gpu")
    )
    assert list(results) == [1.0, 2.0]
    report: dict[str, Any] = sweep_report(results)
    assert report["nodes"] == "1x2gpu" and report["jobs"] == 3
    assert list(report["loads"]) == ["1", "2"]
    at2 = report["loads"]["2"]
    # load 2 on 2 GPUs: j2 arrives at 87.5 s. FIFO holds it behind j1 (starts 200 s): JCTs
    # 100, 200, 162.5. fifo-skip runs it at once (87.5-137.5 s), so j1 starts at 137.5 s:
    # JCTs 100, 237.5, 50.
    assert at2["fifo"]["avg_jct_s"] == pytest.approx((100 + 200 + 162.5) / 3)
    assert at2["fifo-skip"]["avg_jct_s"] == pytest.approx((100 + 237.5 + 50) / 3)
    ratio = at2["fifo-skip"]["ratio_to"]["fifo"]
    assert set(ratio) == set(RATIO_KEYS)
    assert ratio["avg_jct_s"] == pytest.approx(387.5 / 462.5)
    assert ratio["large_gang_avg_wait_s"] is None  # no job of more than 8 GPUs
    assert at2["fifo-skip"]["vs_best_other"] == {
        "avg_jct_s": pytest.approx(387.5 / 462.5),
        "best_other": "fifo",
    }
    assert "fifo" not in at2["fifo"]["ratio_to"]  # not compared with itself
    assert isinstance(at2["fifo"]["keeps_up"], bool)


def test_bad_sweeps_fail_before_anything_runs(three_jobs: Path) -> None:
    trace = load_trace(three_jobs)
    with pytest.raises(SimulationError, match="at least one load"):
        sweep(trace, ["fifo"], [])
    with pytest.raises(SimulationError, match="load must be a positive number"):
        sweep(trace, ["fifo"], [1.0, -1.0], SimConfig(nodes="1x2gpu"))
    with pytest.raises(UnknownPolicyError):
        sweep(trace, ["fifo", "nope"], [1.0], SimConfig(nodes="1x2gpu"))


def test_plot_sweep_writes_one_png_per_figure(three_jobs: Path, tmp_path: Path) -> None:
    results = sweep(load_trace(three_jobs), ["fifo", "las"], [1.0, 2.0], SimConfig(nodes="1x2gpu"))
    written = plot_sweep(results, tmp_path / "plots", "tiny")
    assert sorted(p.name for p in written) == sorted(
        f"{key.removesuffix('_s')}.png" for key in RATIO_KEYS
    )
    for path in written:
        assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_cli_loads_json_has_every_policy_at_every_load(
    app: typer.Typer, three_jobs: Path, tmp_path: Path
) -> None:
    policies = "fifo,fifo-skip,backfill,fair,las,airfoil"
    args = ["sim", "--trace", str(three_jobs), "--nodes", "1x2gpu", "--compare", policies]
    args += ["--loads", "0.5,1.0,2", "--json", "--plot-dir", str(tmp_path / "p")]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert list(data["loads"]) == ["0.5", "1", "2"]
    for by_policy in data["loads"].values():
        assert list(by_policy) == policies.split(",")
        assert set(by_policy["airfoil"]["ratio_to"]) == {"fifo", "fifo-skip", "backfill", "las"}
        assert set(by_policy["las"]["ratio_to"]) == {"fifo", "fifo-skip", "backfill"}
    assert len(list((tmp_path / "p").glob("*.png"))) == len(RATIO_KEYS)


def test_cli_loads_table_shows_the_ratios(app: typer.Typer, three_jobs: Path) -> None:
    args = ["sim", "--trace", str(three_jobs), "--nodes", "1x2gpu", "--compare", "fifo,las"]
    result = CliRunner().invoke(app, [*args, "--loads", "1,2"])
    assert result.exit_code == 0, result.output
    assert "ratio to each baseline and to the best other policy" in result.stdout
    assert "load 2" in result.stdout


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--loads", "0.5,x"], "--loads must be comma-separated numbers"),
        (["--loads", ","], "--loads needs at least one load"),
        (["--loads", "0.5,-1"], "load must be a positive number"),
        (["--plot-dir", "somewhere"], "--plot-dir needs --loads"),
    ],
)
def test_bad_loads_exit_non_zero_with_a_clear_message(
    app: typer.Typer, three_jobs: Path, args: list[str], message: str
) -> None:
    result = CliRunner().invoke(app, ["sim", "--trace", str(three_jobs), *args])
    assert result.exit_code == 2
    assert message in " ".join(result.stderr.split())
    assert "Traceback" not in result.output
