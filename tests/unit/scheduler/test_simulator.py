"""The simulator on tiny traces whose every figure can be checked by hand."""

from __future__ import annotations

from pathlib import Path

import pytest

from airfoil.scheduler import SchedulerState, SimulationError, UnknownPolicyError
from airfoil.scheduler.sim import (
    SUMMARY_KEYS,
    SimConfig,
    build_items,
    compare,
    ftf_ratios,
    load_trace,
    parse_nodes,
    plot_jct_cdf,
    scaled_submits,
    simulate,
    summary,
)

pytestmark = pytest.mark.unit

EXACT = SimConfig(nodes="1x2gpu", load=None)


def write(tmp_path: Path, rows: list[str], name: str = "t.csv") -> Path:
    path = tmp_path / name
    path.write_text("timestamp,duration,num_gpus,gpu_time,cluster\n" + "\n".join(rows) + "\n")
    return path


@pytest.fixture
def three_jobs(tmp_path: Path) -> Path:
    # j0: 1 GPU for 100 s; j1: 2 GPUs for 100 s; j2 arrives at 10 s, 1 GPU for 50 s
    return write(
        tmp_path,
        [
            "2017-11-06 00:00:00,100.0,1,100.0,a",
            "2017-11-06 00:00:00,100.0,2,200.0,b",
            "2017-11-06 00:00:10,50.0,1,50.0,a",
        ],
    )


def test_fifo_figures_by_hand(three_jobs: Path) -> None:
    # j0 runs 0-100; j1 (2 GPUs) waits for it and runs 100-200; j2 waits behind j1: 200-250
    m = simulate(load_trace(three_jobs), "fifo", EXACT).metrics
    assert m.jobs == 3
    assert m.avg_jct_s == pytest.approx((100 + 200 + 240) / 3)
    assert m.median_jct_s == 200.0
    assert m.p99_jct_s == pytest.approx(200 + 0.98 * 40)
    assert m.avg_wait_s == pytest.approx((0 + 100 + 190) / 3)
    assert m.bounded_slowdown == pytest.approx((1 + 2 + 4.8) / 3)
    assert m.makespan_s == 250.0
    assert m.utilization == pytest.approx(350 / (2 * 250))
    # between the first and the last submit (0-10 s) only j0 ran, on 1 of the 2 GPUs
    assert m.span_utilization == pytest.approx(10 / (2 * 10))
    assert m.large_gang_avg_wait_s is None and m.large_gang_jobs == 0
    assert m.preemptions_per_job == 0.0
    assert m.per_tenant_slowdown == pytest.approx({"a": 2.9, "b": 2.0})
    # FTF: two tenants active for most of it; j2's rho = 240 / 50 = 4.8, j1 runs on 2 of 2
    # GPUs with N = 2 tenants, so its fair time is 200 s and rho = 1
    assert m.per_tenant_ftf == pytest.approx({"a": (1 + 4.8) / 2, "b": 1.0})
    assert m.worst_ftf == pytest.approx(2.9)
    assert m.worst_ftf_tenant == "a"


def test_observe_sees_each_decision_applied_and_ftf_ratios_are_the_per_job_rho(
    three_jobs: Path,
) -> None:
    # The public hook and figure benchmarks/trace_due_cell.py traces a replay with.
    trace = load_trace(three_jobs)
    ids = [job.id for job in trace.jobs]
    started: dict[str, float] = {}
    queued: list[tuple[float, list[str]]] = []

    def observe(now: float, state: SchedulerState) -> None:
        started.update({rid: now for rid, run in state.running.items() if run.start == now})
        queued.append((now, sorted(state.waiting)))

    result = simulate(trace, "fifo", EXACT, observe=observe)
    assert started == {ids[0]: 0.0, ids[1]: 100.0, ids[2]: 200.0}
    assert (10.0, sorted(ids[1:])) in queued  # j2 arrived behind j1, both left waiting
    rho = ftf_ratios(
        submit=[0.0, 0.0, 10.0],
        finish=[s + jct for s, jct in zip([0.0, 0.0, 10.0], result.jct_s, strict=True)],
        duration=[j.duration for j in trace.jobs],
        gpus=[j.gpus for j in trace.jobs],
        tenant=[j.tenant for j in trace.jobs],
        cluster_gpus=2,
    )
    assert rho.tolist() == pytest.approx([1.0, 1.0, 4.8])  # the by-hand figures above
    assert (rho[0] + rho[2]) / 2 == pytest.approx(result.metrics.per_tenant_ftf["a"])


def test_fifo_skip_lets_the_small_job_pass(three_jobs: Path) -> None:
    result = simulate(load_trace(three_jobs), "fifo-skip", EXACT)
    assert result.jct_s == (100.0, 200.0, 50.0)
    assert result.policy == "fifo-skip"


def test_las_preempts_at_the_level_crossing_and_pays_the_restart_penalty(tmp_path: Path) -> None:
    trace = load_trace(write(tmp_path, ["0,5000.0,1,5000.0,a", "3000,100.0,1,100.0,b"]))
    result = simulate(trace, "las", SimConfig(nodes="1x1gpu", load=None, restart_penalty=60.0))
    # j0 reaches 3600 GPU-s (level 1) at t=3600 -> preempted for j1 (level 0), which runs
    # 3600-3700; j0 resumes at 3700 with 1400 s left + 60 s penalty -> ends at 5160
    assert result.jct_s == (5160.0, 700.0)
    m = result.metrics
    assert m.preemptions_per_job == 0.5
    assert m.avg_wait_s == pytest.approx((100 + 600) / 2)
    assert m.utilization == pytest.approx(1.0)


def test_a_gang_of_more_than_8_gpus_takes_whole_nodes(tmp_path: Path) -> None:
    trace = load_trace(write(tmp_path, ["0,100.0,8,800.0,a", "0,100.0,16,1600.0,b"]))
    items = build_items(trace, SimConfig(nodes="2x8gpu"), parse_nodes("2x8gpu"))
    assert [(i.gang_size, i.resources.gpu) for i in items] == [(1, 8), (2, 8)]
    m = simulate(trace, "fifo", SimConfig(nodes="2x8gpu", load=None)).metrics
    assert m.large_gang_jobs == 1
    assert m.large_gang_avg_wait_s == 100.0  # waits for the 8-GPU job's node


def test_load_rescales_submit_times(three_jobs: Path) -> None:
    trace = load_trace(three_jobs)
    # 350 GPU-s over a 10 s span on 2 GPUs: load 1.0 stretches time 17.5x
    assert scaled_submits(trace, 2, 1.0) == [0.0, 0.0, 175.0]
    assert scaled_submits(trace, 2, 0.5) == [0.0, 0.0, 350.0]
    assert scaled_submits(trace, 2, None) == [0.0, 0.0, 10.0]


def test_estimate_errors_are_seeded_and_within_2x(three_jobs: Path) -> None:
    trace = load_trace(three_jobs)
    nodes = parse_nodes("1x2gpu")
    exact = build_items(trace, SimConfig(), nodes)
    assert [i.estimate for i in exact] == [100.0, 100.0, 50.0]
    noisy = build_items(trace, SimConfig(estimate_error=1.0, seed=7), nodes)
    assert noisy == build_items(trace, SimConfig(estimate_error=1.0, seed=7), nodes)
    assert noisy != build_items(trace, SimConfig(estimate_error=1.0, seed=8), nodes)
    for job, item in zip(trace.jobs, noisy, strict=True):
        assert item.estimate is not None
        assert job.duration / 2 <= item.estimate <= job.duration * 2
        assert item.estimate != job.duration


def test_compare_summary_and_plot(three_jobs: Path, tmp_path: Path) -> None:
    results = compare(load_trace(three_jobs), ["fifo", "fifo-skip"], EXACT)
    assert list(results) == ["fifo", "fifo-skip"]
    report = summary(results["fifo"])
    assert list(report)[: len(SUMMARY_KEYS)] == list(SUMMARY_KEYS)
    assert report["avg_jct_s"] == pytest.approx(180.0)
    png = plot_jct_cdf(results, tmp_path / "cdf.png", "tiny")
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    with pytest.raises(UnknownPolicyError):
        compare(load_trace(three_jobs), ["fifo", "nope"], EXACT)


def test_split_makes_windows_that_each_start_at_zero(tmp_path: Path) -> None:
    rows = [f"{t},10.0,1,10.0,a" for t in (0, 10, 20, 30, 40)]
    halves = load_trace(write(tmp_path, rows)).split(2)
    assert [[j.submit for j in h.jobs] for h in halves] == [[0.0, 10.0], [0.0, 10.0, 20.0]]


def test_equal_quotas_let_a_tenant_reclaim_its_share(tmp_path: Path) -> None:
    rows = ["0,1000.0,1,1000.0,a", "1,1000.0,1,1000.0,a", "10,100.0,1,100.0,b"]
    trace = load_trace(write(tmp_path, rows))
    shared = SimConfig(nodes="1x2gpu", load=None, quotas="equal", restart_penalty=60.0)
    result = simulate(trace, "fair", shared)
    # a borrows b's GPU; b's job arrives within b's quota and preempts a's newest job, which
    # resumes at 110 with 991 s left plus the 60 s penalty
    assert result.jct_s == (1000.0, 1160.0, 100.0)
    assert result.metrics.preemptions_per_job == pytest.approx(1 / 3)
    # without quotas there is nothing to reclaim: b waits for a GPU to free up
    assert simulate(trace, "fair", SimConfig(nodes="1x2gpu", load=None)).jct_s[2] == 1090.0


@pytest.mark.parametrize(
    ("rows", "message"),
    [
        ([], "no jobs"),
        (["nonsense,1,1,1,a"], ":2: bad value"),
        (["0,-5,1,1,a"], "duration must be > 0"),
    ],
)
def test_bad_traces_are_clear_errors(tmp_path: Path, rows: list[str], message: str) -> None:
    with pytest.raises(SimulationError, match=message):
        load_trace(write(tmp_path, rows))


def test_missing_file_and_columns_are_clear_errors(tmp_path: Path) -> None:
    with pytest.raises(SimulationError, match="not found"):
        load_trace(tmp_path / "missing.csv")
    bad = tmp_path / "bad.csv"
    bad.write_text("when,how_long\n1,2\n")
    with pytest.raises(SimulationError, match="missing column"):
        load_trace(bad)


@pytest.mark.parametrize(
    ("config", "message"),
    [
        (SimConfig(nodes="eight"), "bad nodes spec"),
        (SimConfig(nodes="0x8gpu"), "at least 1"),
        (SimConfig(load=0.0), "load must be a positive"),
        (SimConfig(estimate_error=1.5), "within 0..1"),
        (SimConfig(restart_penalty=-1.0), "not be negative"),
        (SimConfig(quotas="some"), "quotas must be"),
        (SimConfig(nodes="1x2gpu"), "needs 4 GPUs; the cluster has 2"),
    ],
)
def test_bad_options_are_clear_errors(tmp_path: Path, config: SimConfig, message: str) -> None:
    trace = load_trace(write(tmp_path, ["0,10.0,4,40.0,a"]))
    with pytest.raises(SimulationError, match=message):
        simulate(trace, "fifo", config)


def test_heterogeneous_nodes_spec() -> None:
    nodes = parse_nodes("1x8gpu+2x4gpu")
    assert [n.capacity.gpu for n in nodes] == [8, 4, 4]
    assert nodes[0].capacity.cpu == 64.0 and nodes[1].name == "node1"
