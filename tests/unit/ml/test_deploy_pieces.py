"""Pure pieces of deployments: drift reports of several replicas pool to exactly what one
tracker over all their rows reports; the restart backoff doubles to its cap; a deploy of a
bad reference, an unknown model or a file that is not there is a typed error naming it."""

from __future__ import annotations

import json
import math
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import msgspec
import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from airfoil.core.errors import ConfigError, NotFoundError
from airfoil.core.projects import PROJECT_NAME, qualified_name
from airfoil.ml._serve import DriftTracker
from airfoil.server._deployments import deploy, drift, pooled_drift
from airfoil.server._supervisor import backoff_s
from airfoil.store.artifacts import check_artifact_name
from airfoil.store.deployments import Deployment, Replica, ServedDrift
from airfoil.store.memory_artifacts import MemoryArtifactStore
from airfoil.testing.artifact_conformance import make_draft
from airfoil.wire._deployments import DeploymentIn

BASELINE = {"a": (1.0, 2.0, 0.0), "b": (0.0, 1.0, 0.1)}
ROWS: list[dict[str, float | None]] = [
    {"a": 1.0, "b": 2.0},
    {"a": 5.0, "b": None},
    {"a": -3.0, "b": 0.5},
    {"a": 8.0, "b": 4.0},
    {"a": 2.5, "b": float("nan")},
]


def _tracker(rows: list[dict[str, float | None]]) -> DriftTracker:
    t = DriftTracker(["a", "b"], BASELINE)
    t.add(rows)
    return t


def test_pooled_drift_equals_one_tracker_over_every_row() -> None:
    whole = _tracker(ROWS).report()
    parts = [_tracker(ROWS[:2]).report(), _tracker(ROWS[2:]).report()]
    pooled = pooled_drift("m", 3, parts, replicas=2)
    assert pooled.rows == 5 and pooled.replicas == 2 and pooled.version == 3
    for f in ("a", "b"):
        got, want = pooled.features[f], whole["features"][f]
        assert got["training"] == want["training"]
        for stat in ("mean", "std", "missing_rate"):
            assert got["serving"][stat] == pytest.approx(want["serving"][stat]), (f, stat)
        assert got["mean_shift_in_std"] == pytest.approx(want["mean_shift_in_std"])
    assert pooled.features["b"]["serving"]["missing_rate"] == pytest.approx(2 / 5)


def test_drift_of_a_feature_far_from_zero_or_huge_keeps_its_spread() -> None:
    """On main a feature around 1.7e9 (a timestamp) with a spread of 0.82 reported a spread
    of about 160 (``E[x**2] - E[x]**2`` loses every digit), pooled or not, and one value of
    1e200 made the spread NaN for every later report of that process."""
    import numpy as np

    stamps = [1.7e9 + (i % 3) for i in range(3000)]
    want = float(np.std(stamps))
    baseline = {"t": (1.7e9 + 1, want, 0.0)}
    one = DriftTracker(["t"], baseline)
    one.add([{"t": x} for x in stamps])
    assert one.report()["features"]["t"]["serving"]["std"] == pytest.approx(want, rel=1e-6)
    parts = []
    for chunk in (stamps[:1000], stamps[1000:]):
        t = DriftTracker(["t"], baseline)
        t.add([{"t": x} for x in chunk])
        parts.append(t.report())
    pooled = pooled_drift("m", 1, parts, replicas=2).features["t"]["serving"]
    assert pooled["std"] == pytest.approx(want, rel=1e-6)
    assert pooled["mean"] == pytest.approx(1.7e9 + 1, rel=1e-12)

    huge = DriftTracker(["t"], baseline)
    huge.add([{"t": 1.0}, {"t": 1e200}, {"t": 3.0}, {"t": float("inf")}, {"t": -float("inf")}])
    got = huge.report()["features"]["t"]["serving"]
    assert got["std"] == pytest.approx(float(np.std([1e-200, 1.0, 3e-200])) * 1e200)
    assert got["mean"] == pytest.approx(1e200 / 3) and got["missing_rate"] == pytest.approx(0.4)
    huge.add([{"t": 2.0}])  # later rows still count, finitely
    assert math.isfinite(huge.report()["features"]["t"]["serving"]["std"])
    extremes = DriftTracker(["t"], baseline)
    extremes.add([{"t": 1e308}, {"t": -1e308}])
    assert extremes.report()["features"]["t"]["serving"]["std"] == pytest.approx(1e308)


def test_pooled_drift_of_nothing_served_is_empty() -> None:
    assert pooled_drift("m", None, [], replicas=0).rows == 0
    empty = pooled_drift("m", 1, [_tracker([]).report()], replicas=1)
    assert empty.rows == 0 and empty.features["a"]["serving"]["mean"] == 0.0
    assert not math.isnan(empty.features["a"]["mean_shift_in_std"])


def test_the_drift_route_reads_the_record_and_asks_no_replica() -> None:
    """The supervisor copies each ready replica's ``/drift`` onto the record every second,
    yet the route asked every ready replica again on each request (one HTTP round trip per
    replica per console refresh): a replica that would answer other rows is not asked, and
    the record's entries of the version served (live and ended processes) are pooled."""
    asked: list[str] = []

    class FakeReplica(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # what a replica serving version 2 would report now
            asked.append(self.path)
            body = json.dumps({"version": 2, **_tracker(ROWS).report()}).encode()
            self.send_response(200)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), FakeReplica)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        ready = Replica(index=0, port=server.server_port, pid=41, status="ready", version=2)
        kept = [  # version 1's ended processes; version 2's ended and its live one
            ServedDrift(source="", version=1, report=_tracker(ROWS).report()),
            ServedDrift(source="", version=2, report=_tracker(ROWS[:1]).report()),
            ServedDrift(source="0:41", version=2, report=_tracker(ROWS[1:3]).report()),
        ]
        spec = {"project": "p", "name": "m", "ref": "m@production", "replicas": 1}
        recorded = Deployment(**spec, created_at=1.0, updated_at=1.0, members=[ready], drift=kept)
        got = drift(recorded)
        assert (got.name, got.version, got.rows, got.replicas) == ("m", 2, 3, 1)
        a, b = got.features["a"]["serving"], got.features["b"]["serving"]
        assert a["mean"] == pytest.approx(1.0)  # 1, 5 and -3: the first three rows
        assert b["mean"] == pytest.approx(1.25) and b["missing_rate"] == pytest.approx(1 / 3)
        assert asked == []
        # No replica ready: the newest version recorded; nothing recorded: nothing served.
        gone = msgspec.structs.replace(recorded, members=[])
        assert (drift(gone).version, drift(gone).rows) == (2, 3)
        nothing = drift(msgspec.structs.replace(gone, drift=[]))
        assert (nothing.version, nothing.rows, nothing.replicas, nothing.features) == (
            None,
            0,
            0,
            {},
        )
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def test_backoff_doubles_to_a_cap() -> None:
    assert [backoff_s(n) for n in (1, 2, 3, 4)] == [0.5, 1.0, 2.0, 4.0]
    assert backoff_s(50) == 30.0
    # a replica that fails for days: 2.0 ** 1024 overflowed a float (adv19)
    assert backoff_s(1025) == backoff_s(10**6) == 30.0


def test_bad_deploys_name_the_problem(tmp_path: Path) -> None:
    store = MemoryArtifactStore()
    model_file = tmp_path / "m.py"
    model_file.write_text("")
    draft = make_draft()
    store.add_version(
        type(draft)(
            **{
                **{f: getattr(draft, f) for f in draft.__struct_fields__},
                "metadata": {"model_file": str(model_file)},
            }
        ),
        1.0,
    )
    store.add_version(make_draft("rows", "h9", kind="data"), 1.0)
    ok = deploy(store, "p", DeploymentIn(ref="digits:1", replicas=2), 5.0)
    assert ok.replicas == 2 and ok.ref == "digits:1" and store.get_deployment("p", "digits") == ok
    assert store.get_deployment("other", "digits") is None
    with pytest.raises(ConfigError, match="invalid model reference"):
        deploy(store, "p", DeploymentIn(ref="a:b:c"), 5.0)
    with pytest.raises(NotFoundError):
        deploy(store, "p", DeploymentIn(ref="digits@production"), 5.0)
    with pytest.raises(NotFoundError):
        deploy(store, "other", DeploymentIn(ref="digits:1"), 5.0)
    with pytest.raises(ConfigError, match="not a model"):
        deploy(store, "p", DeploymentIn(ref="rows:1"), 5.0)
    with pytest.raises(ConfigError, match="--file"):
        deploy(store, "p", DeploymentIn(ref="digits:1", file=str(tmp_path / "gone.py")), 5.0)
    store.move_alias("p", "digits", "production", 1, 6.0)
    with pytest.raises(ConfigError, match="stop it first"):
        deploy(store, "p", DeploymentIn(ref="digits@production"), 5.0)


def test_deploy_list_says_what_each_replica_reserves() -> None:
    from airfoil.cli._deploy import _each
    from airfoil.wire._deployments import ReplicaResources

    assert _each(None) == "-"
    assert _each(ReplicaResources(cpu=0.5, mem=256 * 2**20, gpu=1)) == "cpu=0.5 mem=256Mi gpu=1"
    assert _each(ReplicaResources(cpu=2, mem=0, gpu=0)) == "cpu=2"


def test_whole_cpus_are_picked_where_fewest_replicas_are_pinned() -> None:
    import os

    from airfoil.server._replica_limits import pick_cpus

    mine = sorted(os.sched_getaffinity(0))
    assert pick_cpus(0.5, []) == ()  # a fraction is not pinned
    assert pick_cpus(99.0, []) == tuple(mine)  # never more than this process may use
    if len(mine) < 2:
        return
    first = pick_cpus(1.0, [])
    assert first == (mine[0],)
    assert pick_cpus(1.9, [first]) == (mine[1],)  # floor(1.9) = 1, the unused one
    assert pick_cpus(1.0, [first, (mine[1],)]) == (mine[0],)  # all used once: lowest id
    assert len(pick_cpus(2.0, [first])) == 2


def _listed(items: list[Any]) -> list[str]:
    """The lines ``airfoil deploy list`` prints for ``items`` (240 columns wide)."""
    from airfoil.cli._common import out_console
    from airfoil.cli._deploy import _show

    width = out_console.width
    out_console.width = 240
    try:
        with out_console.capture() as captured:
            _show(items, as_json=False)
    finally:
        out_console.width = width
    return captured.get().splitlines()


def test_deploy_list_shows_each_replicas_last_exit_and_cpus() -> None:
    from airfoil.wire._deployments import DeploymentOut, ReplicaOut

    oom = "out of memory: it used 912 MiB, over its memory of 700 MiB"
    members = [
        ReplicaOut(
            index=0,
            port=1,
            pid=41,
            status="ready",
            version=3,
            restarts=1,
            last_exit=-9,
            exit_reason=oom,
            cpus=[1],
            url="http://h:1",
        ),
        ReplicaOut(
            index=1, port=2, pid=None, status="backoff", restarts=2, last_exit=-15, url="http://h:2"
        ),
        ReplicaOut(
            index=2, port=3, pid=43, status="ready", version=3, cpus=[0, 2], url="http://h:3"
        ),
    ]
    d = DeploymentOut(
        project="p",
        name="digits",
        ref="digits@production",
        replicas=3,
        status="running",
        created_at=0.0,
        updated_at=0.0,
        members=members,
    )
    rows = [line for line in _listed([d]) if "digits " in line and "│" in line]
    cells = [[c.strip() for c in row.split("│")[1:-1]] for row in rows[1:]]
    assert cells == [
        ["digits", "0", "ready", "3", "1", oom, "1", "41"],
        ["digits", "1", "backoff", "-", "2", "killed by signal 15", "-", "-"],
        ["digits", "2", "ready", "3", "0", "-", "0,2", "43"],
    ]


def test_deploy_drift_prints_the_rows_served_and_flags_a_shifted_feature() -> None:
    from airfoil.cli._common import out_console
    from airfoil.cli._deploy import _show_drift

    pooled = pooled_drift("m", 3, [_tracker(ROWS).report()], replicas=1)
    width = out_console.width
    out_console.width = 200
    try:
        with out_console.capture() as captured:
            _show_drift(pooled, as_json=False)
        with out_console.capture() as nothing:
            _show_drift(pooled_drift("m", None, [], replicas=0), as_json=False)
    finally:
        out_console.width = width
    text = captured.get()
    assert "m: 5 rows served by 1 replica of version 3" in text
    cells = {
        row[0]: row
        for line in text.splitlines()
        if "│" in line
        and (row := [c.strip() for c in line.split("│")[1:-1]])
        and row[0] in ("a", "b")
    }
    # a: serving mean 2.7 vs training 1 +- 2 (0.85 sigma); b: 2.17 vs 0 +- 1 (2.17 sigma)
    assert cells["a"][1] == "1 ± 2" and cells["a"][3] == "0.0%" and cells["a"][5] == ""
    assert cells["b"][3] == "40.0%" and cells["b"][5] == "drifted"
    assert float(cells["b"][4]) == pytest.approx(pooled.features["b"]["mean_shift_in_std"], 0.01)
    assert "m: 0 rows served by 0 replicas of version -" in nothing.get()


def test_deploy_drift_without_a_name_names_the_fix() -> None:
    from typer.testing import CliRunner

    from airfoil.cli.main import app

    out = CliRunner().invoke(app, ["deploy", "drift"])
    assert out.exit_code != 0
    assert "airfoil deploy drift NAME" in out.output


@pytest.mark.parametrize("verb", ["stop", "drift", "key"])
@pytest.mark.parametrize("given", ["digits@production", "digits:3"])
def test_deploy_given_a_reference_for_a_deployment_names_the_deployment(
    verb: str, given: str
) -> None:
    """``airfoil deploy stop digits@production`` (what was deployed) went to the server,
    which said "no deployment 'digits@production'": deployments are named by their model."""
    from typer.testing import CliRunner

    from airfoil.cli.main import app

    env = {"AIRFOIL_SERVER_URL": "http://127.0.0.1:9"}  # refused before any call
    out = CliRunner().invoke(app, ["deploy", verb, given], env=env)
    assert out.exit_code != 0
    assert f"airfoil deploy {verb} digits" in out.output and "named by its model" in out.output


_PROJECTS = st.from_regex(PROJECT_NAME, fullmatch=True)
_NAMES = st.from_regex(r"[A-Za-z_][A-Za-z0-9_.\-]{0,30}", fullmatch=True).map(check_artifact_name)


@given(_PROJECTS, _NAMES, _PROJECTS, _NAMES)
@example("team.a", "m", "team", "a.m")
@example("a..b", "c", "a.", "b.c")
def test_no_two_projects_names_qualify_alike(p1: str, n1: str, p2: str, n2: str) -> None:
    """What names a deployment's Serve application and replica logs: one per project and
    name, whatever dots either holds (``team.a``'s ``m`` was ``team``'s ``a.m``)."""
    if (p1, n1) != (p2, n2):
        assert qualified_name(p1, n1) != qualified_name(p2, n2)
    if "." not in p1:  # what was used before: a running deployment is found again
        assert qualified_name(p1, n1) == f"{p1}.{n1}"


def test_a_deployments_prediction_timeout_is_kept_shown_and_changed_only_by_a_restart(
    tmp_path: Path,
) -> None:
    """``airfoil deploy`` replicas always ran with the service's 60 s: ``--predict-timeout``
    is stored with the deployment, kept by a deploy that does not name it (a scale), shown
    by ``deploy list``, and another one is refused while it runs (as other resources)."""
    from pydantic import ValidationError

    from airfoil.server._deployments import deployment_out

    store = MemoryArtifactStore()
    model_file = tmp_path / "m.py"
    model_file.write_text("")
    draft = msgspec.structs.replace(make_draft(), metadata={"model_file": str(model_file)})
    store.add_version(draft, 1.0)
    assert deploy(store, "p", DeploymentIn(ref="digits:1"), 5.0).predict_timeout_s == 60.0
    store.delete_deployment("p", "digits")
    d = deploy(store, "p", DeploymentIn(ref="digits:1", predict_timeout=300), 5.0)
    assert d.predict_timeout_s == 300.0  # main: no such field (DeploymentIn refused it)
    scaled = deploy(store, "p", DeploymentIn(ref="digits:1", replicas=3), 6.0)
    assert (scaled.replicas, scaled.predict_timeout_s) == (3, 300.0)
    with pytest.raises(ConfigError, match=r"prediction timeout of 300 s: stop it first"):
        deploy(store, "p", DeploymentIn(ref="digits:1", predict_timeout=5), 7.0)
    for bad in (0, -1, 86401):
        with pytest.raises(ValidationError):
            DeploymentIn(ref="digits:1", predict_timeout=bad)
    out = deployment_out(scaled)
    assert out.predict_timeout == 300.0
    lines = _listed([out])
    header = next(line for line in lines if "TIMEOUT" in line)
    row = next(line for line in lines if "digits:1" in line)
    at = header.index("TIMEOUT")
    assert row[at : at + 8].strip() == "300 s", (header, row)
