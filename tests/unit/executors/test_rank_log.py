"""A training rank's log copied to the blob store while the rank runs
(:mod:`airfoil.runtime._rank_log`): whole lines while it writes on, the rest at its end, the
secrets scrubbed, Python's buffered prints included; and what the supervisor adds afterwards."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from airfoil.runtime._rank_log import gang_start_line, unshipped
from airfoil.store.blob import LocalBlobStore

pytestmark = pytest.mark.unit

SECRET = "s3cr3t-value-42"

RANK = textwrap.dedent(
    """
    import json, sys, time
    from airfoil.runtime._rank_log import RankLogShipper, gang_start_line
    from airfoil.store.blob import LocalBlobStore

    blobs = LocalBlobStore(sys.argv[1])
    key, seen = "logs/e1/n0/1.rank-1.log", sys.argv[2]
    shipper = RankLogShipper.start(
        blobs, key, gang_start_line(0, "here:1"), ("@SECRET@",), every=0.05
    )
    assert shipper is not None
    print("first line")                   # buffered by Python: the shipper flushes it
    print("the token is @SECRET@")
    sys.stdout.write("half a line")       # no newline yet: not copied while running
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        text = blobs.get_bytes(blobs.uri(key)).decode() if blobs.exists(blobs.uri(key)) else ""
        if "token" in text:
            break
        time.sleep(0.02)
    with open(seen, "w") as f:
        json.dump(text, f)
    sys.stdout.write(" ends here")
    shipper.close()
    """
).replace("@SECRET@", SECRET)


def test_a_running_rank_ships_whole_lines_scrubbed_and_the_rest_at_its_end(
    tmp_path: Path,
) -> None:
    out = tmp_path / "rank-1.log"
    seen = tmp_path / "seen.json"
    with out.open("wb") as fh:
        done = subprocess.run(
            [sys.executable, "-c", RANK, str(tmp_path / "blobs"), str(seen)],
            stdout=fh,
            stderr=subprocess.STDOUT,
            timeout=60,
        )
    assert done.returncode == 0, out.read_text()
    live = json.loads(seen.read_text())
    assert live.startswith("--- gang start 0 on here:1 (")
    assert live.endswith("first line\nthe token is ***\n")  # whole lines only, scrubbed
    assert "half a line" not in live
    blobs = LocalBlobStore(str(tmp_path / "blobs"))
    final = blobs.get_bytes(blobs.uri("logs/e1/n0/1.rank-1.log")).decode()
    assert final == live + "half a line ends here"
    assert final.count("--- gang start") == 1
    assert SECRET not in final


def test_output_that_is_not_a_file_ships_nothing(tmp_path: Path) -> None:
    code = (
        "import sys\n"
        "from airfoil.runtime._rank_log import RankLogShipper\n"
        "from airfoil.store.blob import LocalBlobStore\n"
        "s = RankLogShipper.start(LocalBlobStore(sys.argv[1]), 'k', 'h\\n')\n"
        "sys.stderr.write('none' if s is None else 'started')\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code, str(tmp_path)],
        capture_output=True,  # a pipe: nothing to read back
        text=True,
        timeout=60,
    )
    assert done.stderr == "none"


def test_the_supervisor_adds_only_what_its_rank_did_not_ship(tmp_path: Path) -> None:
    blobs = LocalBlobStore(str(tmp_path))
    key = "logs/e1/n0/1.rank-0.log"
    assert unshipped(blobs, key, 0, "a\nb\n") is None  # nothing shipped: the whole part
    blobs.append_text(key, gang_start_line(0, "h:1") + "a\n")
    assert unshipped(blobs, key, 0, "a\nb\n") == "b\n"  # killed before its last copy
    assert unshipped(blobs, key, 0, "a\n") == ""  # all shipped
    assert unshipped(blobs, key, 0, "") == ""  # a lost Ray rank: its copy is the record
    assert unshipped(blobs, key, 1, "x\n") is None  # a later gang start shipped nothing yet
    blobs.append_text(key, gang_start_line(1, "h:2") + "x\n")
    assert unshipped(blobs, key, 1, "x\ny\n") == "y\n"  # the latest start's part is compared
