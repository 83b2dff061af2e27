"""A launch plan triggered by new artifact versions, on two server replicas sharing one
PostgreSQL database (and one home): registered and activated over the API of one replica,
each new matching version is launched exactly once (either replica's scheduler loop may claim
it), with the version number as input, and driven to success."""

from __future__ import annotations

import os
import sys
import textwrap
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from _srv import start_server

from airfoil.engine.artifact_triggers import triggered_execution_id
from airfoil.store.artifacts import ArtifactDraft, open_artifact_store

pytestmark = [pytest.mark.integration, pytest.mark.slow]

PLANS = textwrap.dedent(
    """
    import airfoil as af


    @af.task
    def refit(version: int, region: str) -> int:
        return version * 100


    @af.workflow
    def refit_wf(version: int, region: str) -> int:
        return refit(version=version, region=region)


    refit_on_events = af.LaunchPlan.get_or_create(
        refit_wf,
        "refit_on_events",
        fixed_inputs={"region": "eu"},
        trigger=af.on_artifact("events", partition={"region": "eu"}, version_input="version"),
    )
    """
)


def _publish(url: str, home: Path, project: str, region: str) -> int:
    store = open_artifact_store(url, str(home))
    try:
        n = time.time_ns()
        draft = ArtifactDraft(
            project=project,
            name="events",
            kind="data",
            uri=f"file:///events/{n}",
            content_hash=f"h{n}",
            partitions={"region": region},
        )
        return store.add_version(draft, time.time())[0].version
    finally:
        store.close()


def test_two_replicas_launch_each_new_version_once(
    pg_schema_factory: Callable[[], str], tmp_path: Path
) -> None:
    from airfoil.cli._load import load_entity
    from airfoil.client import Client

    url = pg_schema_factory()
    home = tmp_path / "home"
    home.mkdir()
    old = os.environ.get("AIRFOIL_PACKAGE_CACHE")
    os.environ["AIRFOIL_PACKAGE_CACHE"] = str(home / "packages")
    name = f"trg_{uuid.uuid4().hex[:8]}"
    (tmp_path / f"{name}.py").write_text(PLANS)
    load_entity(str(tmp_path / f"{name}.py"), "refit_on_events")
    mod: Any = sys.modules[name]
    project = f"p{uuid.uuid4().hex[:6]}"
    replicas = [start_server(home, url), start_server(home, url)]
    try:
        with Client(replicas[0].url, project=project) as client:
            client.register([mod.refit_on_events])
            assert _publish(url, home, project, "eu") == 1  # before activation
            state = client.set_schedule("refit_on_events", active=True)
            assert state.active and state.schedule == "on new versions of events (region=eu)"
            assert [_publish(url, home, project, r) for r in ("eu", "us", "eu")] == [2, 3, 4]
            want = {
                v: triggered_execution_id(
                    "refit_on_events", "events", v, project=project, domain="development"
                )
                for v in (2, 4)
            }
            deadline = time.monotonic() + 90
            done: list[Any] = []
            while time.monotonic() < deadline and len(done) < 2:
                time.sleep(0.5)
                done = client.list(phase="succeeded", limit=100).items
            time.sleep(2.0)  # a duplicate launch would be listed by now
            listed = client.list(limit=100).items
            assert sorted(e.id for e in listed) == sorted(want.values()), listed
            for v, eid in want.items():
                assert client.outputs(eid, mod.refit_wf) == v * 100
                assert client.get(eid).labels["artifact"] == f"events:{v}"
            off = client.set_schedule("refit_on_events", active=False)
            assert not off.active
    finally:
        for r in replicas:
            r.stop()
        if old is None:
            os.environ.pop("AIRFOIL_PACKAGE_CACHE", None)
        else:
            os.environ["AIRFOIL_PACKAGE_CACHE"] = old
