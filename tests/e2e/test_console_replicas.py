"""The console's deployment section says why a replica's last run ended and where it runs:
against a real ``airfoil server start``, a deployed replica pinned to one CPU is shown with
that CPU; a request that makes it leak past its ``--memory`` gets it killed by the supervisor,
and once it is restarted its row still reads "out of memory: it used X MiB, over its memory of
700 MiB" (the API's ``exit_reason``) beside its new pid and restart count."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
from typing import Any

import httpx
import pytest

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

playwright_api = pytest.importorskip("playwright.sync_api")

from _deployments import HOG_MODEL, alive, until  # noqa: E402
from _serve import STATIC, Server  # noqa: E402
from test_console import browser, page, shot  # noqa: E402, F401

HOG = HOG_MODEL + textwrap.dedent(
    """

    if __name__ == "__main__":
        import json

        print(json.dumps(model.train().ref))
    """
)


def test_console_shows_a_replica_killed_for_memory_and_its_cpus(
    tmp_path_factory: pytest.TempPathFactory,
    page: Any,  # noqa: F811
) -> None:
    if not STATIC.exists():
        pytest.fail("the console is not built: run `make install` (it runs npm in ui/)")
    work, home = tmp_path_factory.mktemp("replicas"), tmp_path_factory.mktemp("home")
    (work / "hog_model.py").write_text(HOG)
    env = dict(os.environ, AIRFOIL_HOME=str(home), AIRFOIL_PACKAGE_CACHE=str(work / "pkgs"))
    trained = subprocess.run(
        [sys.executable, "hog_model.py"],
        env=env,
        cwd=work,
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert trained.returncode == 0, trained.stderr[-3000:]
    assert json.loads(trained.stdout.strip().splitlines()[-1]) == "hog:1"
    srv = Server(home, work)
    api = f"{srv.url}/api/v1/projects/default/deployments/hog"
    pids: set[int] = set()

    def replica(restarts: int) -> Any:
        d = httpx.get(api, timeout=10).json()
        r = (d.get("members") or [None])[0]
        if r is None or r["status"] != "ready" or r["restarts"] != restarts:
            return None
        pids.add(r["pid"])
        return r

    try:
        out = srv.cli("deploy", "hog:1", "--cpus", "1", "--memory", "700Mi", "--server", srv.url)
        assert out.returncode == 0, out.stderr
        first = until("a ready replica", lambda: replica(0), timeout=90)
        assert len(first["cpus"]) == 1 and first["exit_reason"] == ""
        cpu = str(first["cpus"][0])

        page.goto(f"{srv.url}/projects/default/models/hog")
        row = page.locator("section.deployment tr[data-replica='0']")
        page.wait_for_selector("section.deployment tr[data-replica='0'][data-status='ready']")
        assert row.locator("td.cpus").inner_text() == cpu
        assert row.locator("td.last-exit").inner_text() == "—"

        url = first["url"] + "/predict"
        try:  # the leak goes over 700 MiB: killed (the answer may or may not get out)
            httpx.post(url, json={"features": [{"mib": 900.0}]}, timeout=30)
        except httpx.TransportError:
            pass
        again = until("the replica killed and restarted", lambda: replica(1), timeout=90)
        assert again["pid"] != first["pid"] and again["last_exit"] == -signal.SIGKILL
        reason = again["exit_reason"]
        assert reason.startswith("out of memory: it used ") and "700 MiB" in reason, reason

        # The page polls: the row gets the new pid, its restart and why the last run ended.
        ready = "section.deployment tr[data-replica='0'][data-status='ready']"
        page.wait_for_selector(f"{ready}:has(td:text-is('{again['pid']}'))")
        assert row.locator("td.restarts").inner_text() == "1"
        shown = row.locator("td.last-exit")
        assert shown.inner_text() == reason
        assert shown.get_attribute("class") == "last-exit small exit-reason"
        assert row.locator("td.cpus").inner_text() == ", ".join(map(str, again["cpus"]))
        shot(page, "41-model-deployment-replica-oom")
        stopped = srv.cli("deploy", "stop", "hog", "--server", srv.url)
        assert stopped.returncode == 0, stopped.stderr
    finally:
        for pid in pids:
            if alive(pid):
                os.kill(pid, signal.SIGKILL)
        srv.stop()
