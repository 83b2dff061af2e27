"""The schedule store conformance suite: tests every :class:`ScheduleStore` backend passes.

Subclass :class:`ScheduleStoreConformance` and provide the ``schedule_store`` fixture (an
empty store); a backend shared between processes also overrides ``schedule_store_url`` so the
cross-process "exactly one claim wins" test runs::

    class TestMySchedules(ScheduleStoreConformance):
        @pytest.fixture
        def schedule_store(self) -> Iterator[ScheduleStore]:
            s = MyStore()
            yield s
            s.close()

Invariants checked are those of :mod:`airfoil.store._schedules`.
"""

from __future__ import annotations

import multiprocessing
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import msgspec
import pytest

from airfoil.core.errors import ConfigError, NotFoundError
from airfoil.core.launch_plans import (
    CronScheduleSpec,
    FixedRateSpec,
    LaunchPlanSpec,
    NotificationSpec,
)
from airfoil.store._schedules import ScheduleRecord, ScheduleStore

__all__ = ["ScheduleStoreConformance", "make_launch_plan_spec", "make_schedule"]


def make_launch_plan_spec(name: str = "mod.nightly") -> LaunchPlanSpec:
    """A launch plan spec with every field set."""
    # Imported here: importing this module must not import (and so freeze, unrewritten by
    # pytest) the MetaStore suite.
    from airfoil.testing.records import _value, make_workflow_spec

    return LaunchPlanSpec(
        name=name,
        workflow=make_workflow_spec(),
        default_inputs={"x": _value("dx")},
        fixed_inputs={"c": _value("fc")},
        schedule=CronScheduleSpec(
            expression="0 3 * * *", timezone="Europe/Paris", kickoff_time_input_arg="run_date"
        ),
        notifications=(
            NotificationSpec(
                kind="webhook",
                phases=("failed",),
                url="http://127.0.0.1:9/hook",
                timeout_s=1.5,
            ),
            NotificationSpec(kind="log"),
        ),
        labels={"team": "ml\u00e9"},
    )


def make_schedule(
    name: str = "mod.nightly",
    *,
    next_fire_at: float | None = 1000.0,
    active: bool = True,
    project: str = "default",
    domain: str = "development",
) -> ScheduleRecord:
    """A schedule record with every field set."""
    return ScheduleRecord(
        name=name,
        spec=make_launch_plan_spec(name),
        active=active,
        next_fire_at=next_fire_at if active else None,
        created_at=10.5,
        updated_at=11.25,
        project=project,
        domain=domain,
        code_root="/src/proj\u00e9",
        executor="process",
        last_fired_at=900.0,
        last_execution_id="nightly-x",
    )


def replace_last(record: ScheduleRecord) -> ScheduleRecord:
    """``record`` as a schedule that never fired."""
    return msgspec.structs.replace(record, last_fired_at=None, last_execution_id="")


def _claim_in_child(url: str, home: str, instants: list[float], barrier: Any, out: Any) -> None:
    """Child process: claim each instant of ``mod.nightly`` in turn; report the wins."""
    from airfoil.store._open import open_meta_store

    store: Any = open_meta_store(url, home)
    try:
        barrier.wait(timeout=120)
        won = []
        for i, t in enumerate(instants):
            nxt = instants[i + 1] if i + 1 < len(instants) else t + 1.0
            if store.claim_schedule_fire(
                "mod.nightly", expected_at=t, next_at=nxt, execution_id=f"e{i}", now=t
            ):
                won.append(t)
        out.put(won)
    except BaseException as exc:
        out.put(repr(exc))
    finally:
        store.close()


class ScheduleStoreConformance:
    """Tests every :class:`ScheduleStore` backend passes."""

    @pytest.fixture
    def schedule_store(self) -> Iterator[ScheduleStore]:
        """The store under test, empty. Subclasses override this fixture."""
        raise NotImplementedError("subclass and provide a schedule_store fixture")

    @pytest.fixture
    def schedule_store_url(self) -> str | None:
        """A URL another process opens onto the same data; None: not shared."""
        return None

    def test_roundtrip_with_every_field(self, schedule_store: ScheduleStore) -> None:
        record = make_schedule()
        schedule_store.put_schedule(record)
        assert schedule_store.get_schedule("mod.nightly") == record

    def test_fixed_rate_spec_roundtrips(self, schedule_store: ScheduleStore) -> None:
        record = make_schedule()
        record.spec = LaunchPlanSpec(
            name=record.name,
            workflow=record.spec.workflow,
            schedule=FixedRateSpec(interval_s=90.0, kickoff_time_input_arg="t"),
        )
        schedule_store.put_schedule(record)
        assert schedule_store.get_schedule(record.name) == record

    def test_get_unknown_raises_not_found(self, schedule_store: ScheduleStore) -> None:
        with pytest.raises(NotFoundError, match="nope"):
            schedule_store.get_schedule("nope")
        schedule_store.put_schedule(make_schedule(project="other"))
        with pytest.raises(NotFoundError):
            schedule_store.get_schedule("mod.nightly")  # in default/development

    def test_put_replaces(self, schedule_store: ScheduleStore) -> None:
        schedule_store.put_schedule(make_schedule(next_fire_at=5.0))
        second = make_schedule(next_fire_at=7.0)
        second.code_root = "/elsewhere"
        schedule_store.put_schedule(second)
        assert schedule_store.get_schedule("mod.nightly") == second
        assert len(schedule_store.list_schedules()) == 1

    def test_list_orders_by_key_and_filters(self, schedule_store: ScheduleStore) -> None:
        for name, project, active in [
            ("b", "p1", True),
            ("a", "p1", False),
            ("c", "p0", True),
            ("B", "p1", True),
        ]:
            schedule_store.put_schedule(make_schedule(name, project=project, active=active))
        keys = [(r.project, r.name) for r in schedule_store.list_schedules()]
        assert keys == [("p0", "c"), ("p1", "B"), ("p1", "a"), ("p1", "b")]
        assert [r.name for r in schedule_store.list_schedules(project="p1", active=True)] == [
            "B",
            "b",
        ]
        assert [r.name for r in schedule_store.list_schedules(active=False)] == ["a"]
        assert schedule_store.list_schedules(domain="prod") == []

    def test_due_schedules(self, schedule_store: ScheduleStore) -> None:
        schedule_store.put_schedule(make_schedule("late", next_fire_at=300.0))
        schedule_store.put_schedule(make_schedule("early", next_fire_at=100.0))
        schedule_store.put_schedule(make_schedule("tie", next_fire_at=100.0))
        schedule_store.put_schedule(make_schedule("off", active=False))
        schedule_store.put_schedule(make_schedule("future", next_fire_at=1e12))
        assert [r.name for r in schedule_store.due_schedules(300.0)] == ["early", "tie", "late"]
        assert [r.name for r in schedule_store.due_schedules(299.0)] == ["early", "tie"]
        assert [r.name for r in schedule_store.due_schedules(300.0, limit=1)] == ["early"]
        assert schedule_store.due_schedules(99.0) == []
        with pytest.raises(ConfigError):
            schedule_store.due_schedules(0.0, limit=-1)

    def test_activate_and_deactivate(self, schedule_store: ScheduleStore) -> None:
        schedule_store.put_schedule(make_schedule(next_fire_at=100.0))
        off = schedule_store.set_schedule_active(
            "mod.nightly", active=False, next_fire_at=555.0, now=50.0
        )
        assert (off.active, off.next_fire_at, off.updated_at) == (False, None, 50.0)
        assert schedule_store.get_schedule("mod.nightly") == off
        assert schedule_store.due_schedules(1e12) == []
        on = schedule_store.set_schedule_active(
            "mod.nightly", active=True, next_fire_at=200.0, now=60.0
        )
        assert (on.active, on.next_fire_at, on.updated_at) == (True, 200.0, 60.0)
        assert on.spec == make_launch_plan_spec()
        with pytest.raises(NotFoundError):
            schedule_store.set_schedule_active("nope", active=True, next_fire_at=1.0, now=1.0)

    def test_claim_advances_and_records(self, schedule_store: ScheduleStore) -> None:
        schedule_store.put_schedule(make_schedule(next_fire_at=100.0))
        assert schedule_store.claim_schedule_fire(
            "mod.nightly", expected_at=100.0, next_at=200.0, execution_id="e100", now=101.0
        )
        got = schedule_store.get_schedule("mod.nightly")
        assert (got.next_fire_at, got.last_fired_at, got.last_execution_id, got.updated_at) == (
            200.0,
            100.0,
            "e100",
            101.0,
        )
        # The same instant again, a wrong one, an unknown schedule: nothing changes.
        assert not schedule_store.claim_schedule_fire(
            "mod.nightly", expected_at=100.0, next_at=200.0, execution_id="x", now=102.0
        )
        assert not schedule_store.claim_schedule_fire(
            "nope", expected_at=200.0, next_at=300.0, execution_id="x", now=102.0
        )
        assert schedule_store.get_schedule("mod.nightly") == got

    def test_record_fire_keeps_the_latest_and_never_moves_next(
        self, schedule_store: ScheduleStore
    ) -> None:
        schedule_store.put_schedule(make_schedule(next_fire_at=2000.0))  # last fired at 900
        assert schedule_store.record_schedule_fire(
            "mod.nightly", fired_at=1500.0, execution_id="e1500", now=10.0
        )
        got = schedule_store.get_schedule("mod.nightly")
        assert (got.next_fire_at, got.last_fired_at, got.last_execution_id, got.updated_at) == (
            2000.0,
            1500.0,
            "e1500",
            10.0,
        )
        # an earlier or the same instant, an unknown schedule: nothing changes
        for earlier in (900.0, 1200.0, 1500.0):
            assert not schedule_store.record_schedule_fire(
                "mod.nightly", fired_at=earlier, execution_id="old", now=11.0
            )
        assert not schedule_store.record_schedule_fire(
            "nope", fired_at=9000.0, execution_id="x", now=11.0
        )
        assert schedule_store.get_schedule("mod.nightly") == got
        # the loop still claims its unchanged next instant
        assert schedule_store.claim_schedule_fire(
            "mod.nightly", expected_at=2000.0, next_at=3000.0, execution_id="e2000", now=12.0
        )
        assert schedule_store.get_schedule("mod.nightly").last_execution_id == "e2000"
        # a schedule that never fired takes any instant
        schedule_store.put_schedule(replace_last(make_schedule("fresh")))
        assert schedule_store.record_schedule_fire(
            "fresh", fired_at=1.0, execution_id="e1", now=13.0
        )
        assert schedule_store.get_schedule("fresh").last_execution_id == "e1"

    def test_claim_refused_when_inactive(self, schedule_store: ScheduleStore) -> None:
        schedule_store.put_schedule(make_schedule(next_fire_at=100.0))
        schedule_store.set_schedule_active("mod.nightly", active=False, next_fire_at=None, now=1)
        assert not schedule_store.claim_schedule_fire(
            "mod.nightly", expected_at=100.0, next_at=200.0, execution_id="x", now=101.0
        )

    def test_fractional_instants_compare_exactly(self, schedule_store: ScheduleStore) -> None:
        t = 1774746000.123456
        schedule_store.put_schedule(make_schedule(next_fire_at=t))
        assert schedule_store.get_schedule("mod.nightly").next_fire_at == t
        assert schedule_store.claim_schedule_fire(
            "mod.nightly", expected_at=t, next_at=t + 0.1, execution_id="e", now=t
        )

    def test_delete(self, schedule_store: ScheduleStore) -> None:
        schedule_store.put_schedule(make_schedule())
        assert schedule_store.delete_schedule("mod.nightly")
        assert not schedule_store.delete_schedule("mod.nightly")
        assert schedule_store.list_schedules() == []

    def test_threads_claiming_one_instant_have_one_winner(
        self, schedule_store: ScheduleStore
    ) -> None:
        schedule_store.put_schedule(make_schedule(next_fire_at=100.0))
        barrier = threading.Barrier(6)

        def claim(t: int) -> bool:
            barrier.wait(timeout=30)
            return schedule_store.claim_schedule_fire(
                "mod.nightly", expected_at=100.0, next_at=200.0, execution_id=f"t{t}", now=100.0
            )

        with ThreadPoolExecutor(6) as pool:
            wins = list(pool.map(claim, range(6)))
        assert sum(wins) == 1
        winner = wins.index(True)
        assert schedule_store.get_schedule("mod.nightly").last_execution_id == f"t{winner}"

    def test_processes_claiming_have_one_winner_per_instant(
        self, schedule_store: ScheduleStore, schedule_store_url: str | None, tmp_path: Any
    ) -> None:
        if schedule_store_url is None:
            pytest.skip("this backend is not shared between processes")
        instants = [100.0 + i for i in range(20)]
        schedule_store.put_schedule(make_schedule(next_fire_at=instants[0]))
        ctx = multiprocessing.get_context("spawn")
        n = 3
        barrier, out = ctx.Barrier(n), ctx.Queue()
        procs = [
            ctx.Process(
                target=_claim_in_child,
                args=(schedule_store_url, str(tmp_path), instants, barrier, out),
            )
            for _ in range(n)
        ]
        for p in procs:
            p.start()
        results = [out.get(timeout=180) for _ in procs]
        for p in procs:
            p.join(timeout=60)
        errors = [r for r in results if isinstance(r, str)]
        assert not errors, errors
        won = sorted(t for r in results for t in r)
        assert won == instants  # every instant claimed, each exactly once
