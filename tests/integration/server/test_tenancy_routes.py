"""Every route, attacked by another project's runner: beta's key on alpha's paths, and
alpha's execution ids, names and values named under beta's own paths (in the path, in
comparison queries, in gate answers), and what beta's listings say about alpha's runs.
The routes are read from the OpenAPI spec, so a new route is attacked too."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from _srv import Running, start_server

pytestmark = pytest.mark.integration

MARK = 4_242_421  # alpha's input: no answer to beta may hold it, nor its double


@pytest.fixture(scope="module")
def two(tmp_path_factory: pytest.TempPathFactory, flow: Any) -> Iterator[dict[str, Any]]:
    from airfoil.client import Client

    home = tmp_path_factory.mktemp("tenancy-routes")
    with pytest.MonkeyPatch.context() as env:
        env.setenv("AIRFOIL_PACKAGE_CACHE", str(home / "packages"))
        running: Running = start_server(home, None)
        try:
            reg = running.deps.registry
            keys = {p: reg.create_key(p, "runner")[1] for p in ("alpha", "beta")}
            with Client(running.url, keys["alpha"], project="alpha") as c:
                c.register([flow.wf, flow.gated])
                done = c.launch(flow.wf, {"x": MARK}, name="alpha-done")
                assert c.wait(done.id, timeout=120).phase == "succeeded"
                waiting = c.launch(flow.gated, {"x": 3}, name="alpha-waiting")
            with Client(running.url, keys["beta"], project="beta") as c:
                c.register([flow.wf, flow.gated])
                mine = c.launch(flow.wf, {"x": MARK}, name="beta-run")
                beta_detail = c.wait(mine.id, timeout=120)
            yield {
                "running": running,
                "keys": keys,
                "alpha": {"done": done.id, "waiting": waiting.id},
                "beta": mine.id,
                "beta_detail": beta_detail,
            }
        finally:
            running.stop()


def _ops(running: Running) -> list[tuple[str, str, dict[str, Any]]]:
    spec = httpx.get(running.url + "/openapi.json", timeout=60).json()
    return [
        (method.upper(), path, op)
        for path, ops in spec["paths"].items()
        for method, op in ops.items()
        if "{project}" in path
    ]


def _call(two: dict[str, Any], method: str, path: str, op: dict[str, Any]) -> httpx.Response:
    # reads name the finished run; terminate, relaunch, recover and signals the waiting one
    values = {
        "execution_id": two["alpha"]["waiting" if method == "POST" else "done"],
        "node_id": "n0",
        "name": "threshold" if "/signals/" in path else "wf",
        "domain": "development",
        "signature": "0" * 16,
        "version": "1",
        "task": "flow.add",
        "value_hash": "0" * 64,
        "sha256": "0" * 64,
    }
    url = two["running"].url + re.sub(r"\{(\w+)\}", lambda m: values.get(m.group(1), "x"), path)
    params = {
        p["name"]: two["alpha"]["done"]
        for p in op.get("parameters", [])
        if p.get("in") == "query" and p["name"] in ("a", "b")
    }
    headers = {"Authorization": f"Bearer {two['keys']['beta']}"}
    body: dict[str, Any] = {"value": 30.0} if "/signals/" in path else {}
    return httpx.request(
        method,
        url,
        headers=headers,
        params=params,
        json=body if method != "GET" else None,
        timeout=60,
    )


def test_betas_runner_reaches_nothing_under_alphas_paths(two: dict[str, Any]) -> None:
    reached = []
    for method, path, op in _ops(two["running"]):
        if path.endswith("/watch"):
            continue  # a stream: its 403 comes before the stream, checked by the next test
        r = _call(two, method, path.replace("{project}", "alpha"), op)
        if r.status_code not in (401, 403, 404):
            reached.append(f"{method} {path}: {r.status_code} {r.text[:200]}")
    assert not reached, "\n".join(reached)


def test_alphas_ids_name_nothing_under_betas_paths(two: dict[str, Any]) -> None:
    reached = []
    for method, path, op in _ops(two["running"]):
        if path.endswith("/watch"):
            continue
        uses_alpha = "{execution_id}" in path or any(
            p.get("in") == "query" and p["name"] in ("a", "b") for p in op.get("parameters", [])
        )
        if not uses_alpha:
            continue
        r = _call(two, method, path.replace("{project}", "beta"), op)
        # (a 404 may repeat the id it was given; it must say nothing of the run)
        if r.status_code < 400 or str(MARK) in r.text or "alpha" in r.text:
            reached.append(f"{method} {path}: {r.status_code} {r.text[:200]}")
    assert not reached, "\n".join(reached)
    # the gate of alpha's waiting run was not answered, nor the run ended, by beta
    headers = {"Authorization": f"Bearer {two['keys']['alpha']}"}
    url = f"{two['running'].url}/api/v1/projects/alpha/executions/{two['alpha']['waiting']}"
    assert httpx.get(url, headers=headers, timeout=60).json()["phase"] == "running"


def test_betas_listings_say_nothing_of_alphas_runs(two: dict[str, Any]) -> None:
    leaks = []
    for method, path, op in _ops(two["running"]):
        if method != "GET" or "{execution_id}" in path or path.endswith("/compare"):
            continue
        r = _call(two, method, path.replace("{project}", "beta"), op)
        for secret in (two["alpha"]["done"], two["alpha"]["waiting"], "alpha-done"):
            if secret in r.text:
                leaks.append(f"GET {path}: holds {secret}: {r.text[:300]}")
    headers = {"Authorization": f"Bearer {two['keys']['beta']}"}
    cluster = httpx.get(two["running"].url + "/api/v1/cluster", headers=headers, timeout=60)
    if two["alpha"]["waiting"] in cluster.text:
        leaks.append(f"GET /cluster names alpha's run: {cluster.text[:300]}")
    assert not leaks, "\n".join(leaks)


def test_beta_never_hits_alphas_cache_entry(two: dict[str, Any]) -> None:
    detail = two["beta_detail"]
    cache = {n.id: n.cache_status for n in detail.nodes}
    assert "put" in cache.values(), cache  # the cached task ran in beta and was stored
    assert "hit" not in cache.values(), cache


def test_the_watch_stream_of_alpha_is_refused_to_beta(two: dict[str, Any]) -> None:
    headers = {"Authorization": f"Bearer {two['keys']['beta']}"}
    for project in ("alpha", "beta"):
        url = (
            f"{two['running'].url}/api/v1/projects/{project}/executions/"
            f"{two['alpha']['waiting']}/watch"
        )
        with httpx.stream("GET", url, headers=headers, timeout=30) as r:
            assert r.status_code in (403, 404), (project, r.status_code)


def test_the_keyless_ops_endpoints_name_no_run(two: dict[str, Any], flow: Any) -> None:
    """``/healthz``, ``/readyz`` and ``/metrics`` answer without a key (probes and scrapers
    have none): they may count alpha's runs, never name them."""
    from airfoil.client import Client

    url = two["running"].url
    with Client(url, two["keys"]["alpha"], project="alpha") as c:
        c.register([flow.sleepy])
        run = c.launch(flow.sleepy, {"seconds": 30.0}, name="alpha-sleepy")
        try:
            deadline = time.monotonic() + 60
            while True:  # until a slot drives it, as /readyz reports
                ready = httpx.get(url + "/readyz", timeout=60)
                assert ready.status_code == 200, ready.text
                if ready.json()["driving"]:
                    break
                assert time.monotonic() < deadline, ready.text
                time.sleep(0.1)
            ids = (run.id, two["alpha"]["waiting"], two["alpha"]["done"])
            for path in ("/healthz", "/readyz", "/metrics"):
                text = httpx.get(url + path, timeout=60).text
                named = [i for i in (*ids, "alpha") if i in text]
                assert not named, (path, named, text[:300])
            assert ready.json()["driving"] >= 1, ready.text  # counted
        finally:
            c.terminate(run.id)
