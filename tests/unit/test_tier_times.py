"""The time-by-tier summary every session prints (``tests/_tier_times.py``): what the Ray tier
adds to ``make test`` (issue 13), the session's shared Ray start/stop included wherever it ran."""

from __future__ import annotations

import re

from _tier_times import PhaseTime, summary_lines, tier_times

RAY = frozenset({"integration", "ray"})
UNIT = frozenset({"unit"})
E2E = frozenset({"e2e"})


def test_each_tier_sums_its_tests_phases() -> None:
    times = tier_times(
        [
            PhaseTime("a[ray]", RAY, 0.5, when="setup"),
            PhaseTime("a[ray]", RAY, 2.0),
            PhaseTime("a[ray]", RAY, 0.25, when="teardown"),
            PhaseTime("b", UNIT, 0.125, when="setup"),
            PhaseTime("c", E2E, 4.0, when="setup"),
            PhaseTime("c", E2E, 1.0),
        ]
    )
    assert {t: (v.tests, v.seconds) for t, v in times.items()} == {
        "unit": (1, 0.125),
        "integration": (1, 2.75),
        "e2e": (1, 5.0),
        "ray": (1, 2.75),
    }


def test_the_shared_ray_counts_for_the_ray_tier_in_whichever_test_it_ran() -> None:
    # The head starts in a Ray test's setup (3 s of its 3.5 s) and the local Ray stops in the
    # teardown of the session's last test, a unit test (2 s of its 2.25 s).
    times = tier_times(
        [
            PhaseTime("a[ray]", RAY, 3.5, shared_ray=3.0, when="setup"),
            PhaseTime("a[ray]", RAY, 1.0),
            PhaseTime("z", UNIT, 0.5, when="setup"),
            PhaseTime("z", UNIT, 2.25, shared_ray=2.0, when="teardown"),
        ]
    )
    assert times["ray"].tests == 1
    assert times["ray"].seconds == 3.5 + 1.0 + 2.0
    assert times["ray"].shared_ray == 5.0
    assert times["unit"].seconds == 0.5 + 0.25
    assert times["integration"].seconds == 0.5 + 1.0  # the head is not the test's own time
    ray_line = summary_lines(times)[-1]
    assert re.fullmatch(
        r"ray +1 tests +6\.5 s \(setup\+call\+teardown\), of which the session's Ray "
        r"start/stop 5\.0 s",
        ray_line,
    ), ray_line


def test_items_sharing_one_node_id_count_each() -> None:
    # schemathesis runs one item per API operation, all under one node id: 57 such items
    # showed as "1 tests" when tests were counted by id.
    phases = []
    for _ in range(3):
        phases += [PhaseTime("s.py::test_api", RAY - {"ray"}, t, when=w) for t, w in
                   ((0.1, "setup"), (1.0, "call"), (0.1, "teardown"))]  # fmt: skip
    times = tier_times(phases)
    assert times["integration"].tests == 3
    assert abs(times["integration"].seconds - 3.6) < 1e-9
