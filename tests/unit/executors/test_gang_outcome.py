"""Which rank a failed gang reports as its cause."""

from __future__ import annotations

from airfoil.executors._gang import GangOutcome, RankOutcome


def _outcome(*ranks: RankOutcome) -> GangOutcome:
    return GangOutcome(ranks=list(ranks), running_at=1.0, started_at=0.0)


def test_a_rank_that_died_is_the_cause_before_a_lower_rank_that_raised() -> None:
    raised = RankOutcome(rank=0, error_type="builtins.RuntimeError", message="peer closed")
    died = RankOutcome(rank=1, lost=True, message="rank 1 was lost (its actor or node died)")
    assert _outcome(raised, died).first_failure() == died


def test_the_lowest_rank_among_equals_and_never_a_stopped_one() -> None:
    stopped = RankOutcome(rank=0, lost=True, stopped=True)
    a = RankOutcome(rank=1, error_type="builtins.ValueError", message="a")
    b = RankOutcome(rank=2, error_type="builtins.ValueError", message="b")
    assert _outcome(stopped, a, b).first_failure() == a
    assert _outcome(stopped, RankOutcome(rank=1, ok=True)).first_failure() is None
    assert _outcome(RankOutcome(rank=0, ok=True)).first_failure() is None


def test_a_rendezvous_port_is_free_and_outside_the_kernels_ephemeral_range() -> None:
    # A port bind(0) hands out (main's free_port) can be given to any outgoing connection on
    # the host between the pick and rank 0's listen; one outside that range cannot.
    import socket
    from pathlib import Path

    import pytest

    from airfoil.executors._gang import free_port

    ranges = Path("/proc/sys/net/ipv4/ip_local_port_range")
    if not ranges.exists():
        pytest.skip("no Linux ephemeral port range to check against")
    low, high = (int(x) for x in ranges.read_text().split())
    for _ in range(20):
        port = free_port()
        assert not low <= port <= high, (port, low, high)
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
            s.bind(("", port))  # free: nothing holds it


def test_a_gang_that_could_not_bind_its_port_is_told_from_other_failures() -> None:
    from airfoil.executors._gang import port_taken

    torch_store = RankOutcome(
        rank=0,
        error_type="torch.distributed.DistNetworkError",
        message="The server socket has failed to bind to [::]:29500 (errno: 98 - Address "
        "already in use).",
    )
    plain = RankOutcome(rank=0, error_type="OSError", message="[Errno 98] Address already in use")
    other = RankOutcome(rank=0, error_type="builtins.ValueError", message="bad batch")
    lost = RankOutcome(rank=0, lost=True, message="rank 0 died (Address already in use)")
    assert port_taken(_outcome(torch_store, RankOutcome(rank=1, lost=True, stopped=True)))
    assert port_taken(_outcome(plain))
    assert not port_taken(_outcome(other))
    assert not port_taken(_outcome(lost))  # a death is a loss, for the gang's restarts
    assert not port_taken(_outcome(RankOutcome(rank=0, ok=True)))
