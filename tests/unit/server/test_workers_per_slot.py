"""A server's driver slots get at least MIN_WORKERS_PER_SLOT workers by default (their batches
hold the tasks their workers finished), the CPU count where that is more, and what the
operator says where it says."""

from __future__ import annotations

import os

import pytest

from airfoil.server._config import MIN_WORKERS_PER_SLOT, ServerConfig, server_settings

pytestmark = pytest.mark.unit


def test_the_default_is_the_cpu_count_and_at_least_the_minimum() -> None:
    expected = max(MIN_WORKERS_PER_SLOT, os.cpu_count() or 1)
    assert MIN_WORKERS_PER_SLOT == 4
    assert ServerConfig(home="h").workers_per_slot == expected
    assert server_settings(ServerConfig(home="h")).max_parallel == expected


def test_the_cpu_count_wins_where_it_is_more(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(os, "cpu_count", lambda: 64)
    assert ServerConfig(home="h").workers_per_slot == 64
    monkeypatch.setattr(os, "cpu_count", lambda: 1)
    assert ServerConfig(home="h").workers_per_slot == MIN_WORKERS_PER_SLOT


def test_an_operators_setting_is_kept_below_the_minimum() -> None:
    assert ServerConfig(home="h", max_parallel=2).workers_per_slot == 2
    assert server_settings(ServerConfig(home="h", max_parallel=1)).max_parallel == 1


def test_another_executor_keeps_its_own_default() -> None:
    # Ray's default is the cluster's CPUs, not this machine's.
    assert ServerConfig(home="h", executor="ray").workers_per_slot is None
    assert server_settings(ServerConfig(home="h", executor="ray")).max_parallel is None
    assert ServerConfig(home="h", executor="ray", max_parallel=8).workers_per_slot == 8


def test_the_cli_shares_one_pool_of_a_slots_workers_on_the_process_executor() -> None:
    """``airfoil server start`` without ``--workers``: the slots share one pool of as many
    workers as a slot had on its own; on Ray each slot keeps its own executor."""
    from airfoil.server._config import cli_shared_workers

    config = ServerConfig(home="h")
    assert config.workers is None  # the library's default: each slot its own executor
    assert cli_shared_workers(config) == config.workers_per_slot
    assert cli_shared_workers(ServerConfig(home="h", max_parallel=8)) == 8
    assert cli_shared_workers(ServerConfig(home="h", executor="ray")) is None


def test_slots_sharing_a_pool_leave_the_depth_to_it_unless_told() -> None:
    """Where the slots share a pool, the pool answers how many attempts a slot has out (its
    share of the workers, deeper while they are short: ``PoolClient.max_out``), so the
    engine gets no fixed bound; ``--max-parallel`` stays the operator's cap; without a
    shared pool, a slot's own workers bound it as before."""
    assert ServerConfig(home="h", workers=4).attempts_per_execution is None
    assert ServerConfig(home="h", workers=4, max_parallel=4).attempts_per_execution == 4
    assert ServerConfig(home="h", workers=4, max_parallel=16).attempts_per_execution == 16
    own = ServerConfig(home="h", workers=0)
    assert own.attempts_per_execution == own.workers_per_slot
    assert ServerConfig(home="h").attempts_per_execution == ServerConfig(home="h").workers_per_slot
    assert ServerConfig(home="h", executor="ray").attempts_per_execution is None
