"""kill_tree, shared by the process and ray executors: a tree below a process goes, a
grandchild in a session of its own too; a pid that now names another process is left alone;
``root=False`` lets the process itself go on (its owner, Ray, ends it)."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest
from _procs import gone

from airfoil.executors._proc_tree import kill_tree

pytestmark = pytest.mark.unit

# a parent whose child starts a grandchild in a session of its own, its pid in argv[1]
PARENT = (
    "import subprocess, sys, time\n"
    'inner = \'import subprocess, sys, time; p = subprocess.Popen([sys.executable, "-c", '
    '"import time; time.sleep(60)"], start_new_session=True); '
    'open(sys.argv[1], "w").write(str(p.pid)); time.sleep(60)\'\n'
    "subprocess.Popen([sys.executable, '-c', inner, sys.argv[1]])\n"
    "time.sleep(60)\n"
)


@pytest.fixture
def tree(tmp_path: Path) -> Iterator[tuple[subprocess.Popen[bytes], int]]:
    pid_file = tmp_path / "grandchild"
    parent = subprocess.Popen([sys.executable, "-c", PARENT, str(pid_file)])
    end = time.monotonic() + 30
    while not (pid_file.exists() and pid_file.read_text()):
        assert time.monotonic() < end, "the grandchild never started"
        time.sleep(0.02)
    grandchild = int(pid_file.read_text())
    yield parent, grandchild
    for pid in (grandchild, parent.pid):  # whatever a failed test left
        try:
            for p in [*psutil.Process(pid).children(recursive=True), psutil.Process(pid)]:
                p.kill()
        except psutil.Error:
            pass
    parent.wait()


def test_the_tree_goes_and_root_false_lets_the_process_run_on(
    tree: tuple[subprocess.Popen[bytes], int],
) -> None:
    parent, grandchild = tree
    created = psutil.Process(parent.pid).create_time()
    assert kill_tree(parent.pid, created, root=False) == 2  # the child and the grandchild
    assert gone(grandchild)
    assert psutil.Process(parent.pid).status() != psutil.STATUS_STOPPED  # let go on
    assert parent.poll() is None
    kill_tree(parent.pid, created)  # itself killed this time
    assert parent.wait(timeout=5) == -9


def test_a_pid_that_names_another_process_now_is_left_alone(
    tree: tuple[subprocess.Popen[bytes], int],
) -> None:
    parent, grandchild = tree
    created = psutil.Process(parent.pid).create_time()
    assert kill_tree(parent.pid, created - 5.0) == 0  # (what its start time would tell)
    assert parent.poll() is None and not gone(grandchild, within=0.2)
