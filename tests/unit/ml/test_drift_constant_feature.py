"""A feature that was constant in training and is not when served has drifted past any
measure, and every view says so.

On main its shift in training standard deviations was ``inf`` in the service (``/drift``
wrote it as ``null``, and the console flags only a shift over 1), and 0 in a deployment's
pooled drift (``airfoil deploy drift`` and the console's model page showed it as not
drifted at all), while the same value served to a feature with any spread was flagged."""

from __future__ import annotations

import json

import pytest

from airfoil.ml._serve import DriftTracker
from airfoil.server._deployments import pooled_drift

pytestmark = pytest.mark.unit

#: ``k`` was 0.0 in every training row; ``x`` had a spread
BASELINE = {"k": (0.0, 0.0, 0.0), "x": (0.0, 1.0, 0.0)}


def _report(rows: list[dict[str, float | None]]) -> dict[str, object]:
    t = DriftTracker(["k", "x"], BASELINE)
    t.add(rows)
    return t.report()


def test_a_constant_training_feature_served_otherwise_is_flagged_everywhere() -> None:
    from airfoil.cli._common import out_console
    from airfoil.cli._deploy import _show_drift

    report = _report([{"k": 1.0, "x": 0.5}, {"k": 1.0, "x": -0.5}])
    k = report["features"]["k"]  # type: ignore[index]
    assert k["mean_shift_in_std"] is None, k  # main: inf (JSON has none)
    json.dumps(report, allow_nan=False)  # a JSON document as it is
    pooled = pooled_drift("m", 1, [report, report], replicas=2)
    assert pooled.features["k"]["mean_shift_in_std"] is None  # main: 0.0
    assert pooled.features["x"]["mean_shift_in_std"] == 0.0
    # served as it was trained: no shift
    same = pooled_drift("m", 1, [_report([{"k": 0.0, "x": 0.0}])], replicas=1)
    assert same.features["k"]["mean_shift_in_std"] == 0.0
    width = out_console.width
    out_console.width = 200
    try:
        with out_console.capture() as captured:
            _show_drift(pooled, as_json=False)
    finally:
        out_console.width = width
    cells = {
        row[0]: row
        for line in captured.get().splitlines()
        if "│" in line
        and (row := [c.strip() for c in line.split("│")[1:-1]])
        and row[0] in ("k", "x")
    }
    assert cells["k"][4:] == ["∞", "drifted"], cells  # main: 0.00 and not flagged
    assert cells["x"][4:] == ["0.00", ""], cells
