"""Run the flytekit-style corpus under real flytekit and under Airfoil; compare outputs.

Each program in ``tests/compat/flytekit_corpus`` imports ``airfoil.compat.flytekit``. This
script copies it with that import rewritten to ``flytekit``, runs it with a Python that has
flytekit installed, runs the original with this Python, and compares the two stdouts line by
line (leaving out the lines flytekit's local run prints itself, such as ``[Sleep Gate]``
simulations). It prints one line per program (``same`` / ``DIFFERENT`` / ``flytekit failed``), the
time each side took, and a summary. ``--write-expected`` stores flytekit's output as the
program's ``.out`` file, which ``tests/compat/test_flytekit_corpus.py`` asserts.

Usage (flytekit 1.16.31 in a throw-away venv; it needs only PyPI)::

    python -m venv /tmp/flytekit-venv
    /tmp/flytekit-venv/bin/pip install flytekit==1.16.31 pandas pyarrow
    python benchmarks/flytekit_compat_compare.py --flytekit-python /tmp/flytekit-venv/bin/python
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

#: Lines flytekit's local run prints itself (not the program): simulated gates, the SQLite
#: task's diagnostics (Airfoil writes those to the attempt's log).
FLYTEKIT_CHATTER = re.compile(
    r"^(\[(Sleep|Approve|Input) Gate\]|Connecting to db |Interpolated query )"
)

CORPUS = Path(__file__).resolve().parent.parent / "tests" / "compat" / "flytekit_corpus"


def to_flytekit(source: str) -> str:
    """The program with only its imports changed back to flytekit's."""
    return re.sub(r"\bairfoil\.compat\.flytekit\b", "flytekit", source)


def run(python: str, path: Path, env: dict[str, str]) -> tuple[int, str, str, float]:
    start = time.perf_counter()
    proc = subprocess.run(
        [python, path.name],
        cwd=path.parent,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    return proc.returncode, proc.stdout, proc.stderr, time.perf_counter() - start


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--flytekit-python", required=True, help="a python with flytekit")
    parser.add_argument("--write-expected", action="store_true")
    parser.add_argument("programs", nargs="*", help="program stems (default: all)")
    args = parser.parse_args()
    programs = sorted(CORPUS.glob("p*.py"))
    if args.programs:
        programs = [p for p in programs if p.stem in args.programs]
    same = 0
    with tempfile.TemporaryDirectory() as tmp:
        base_env = {k: v for k, v in os.environ.items() if not k.startswith("AIRFOIL_")}
        fk_env = {**base_env, "FLYTE_SDK_LOGGING_LEVEL": "40", "PYTHONPATH": ""}
        af_env = {**base_env, "AIRFOIL_HOME": os.path.join(tmp, "airfoil-home")}
        copies = Path(tmp) / "flytekit"
        copies.mkdir()
        for program in programs:
            copy = copies / program.name
            copy.write_text(to_flytekit(program.read_text()))
            fk_rc, fk_out, fk_err, fk_s = run(args.flytekit_python, copy, fk_env)
            fk_out = "".join(
                line
                for line in fk_out.splitlines(keepends=True)
                if not FLYTEKIT_CHATTER.match(line)
            )
            af_rc, af_out, af_err, af_s = run(sys.executable, program, af_env)
            af_out = "".join(
                line
                for line in af_out.splitlines(keepends=True)
                if not FLYTEKIT_CHATTER.match(line)
            )
            if fk_rc != 0:
                verdict = "flytekit failed: " + (fk_err.strip().splitlines() or ["?"])[-1]
            elif af_rc != 0:
                verdict = "AIRFOIL FAILED: " + (af_err.strip().splitlines() or ["?"])[-1]
            elif fk_out.splitlines() == af_out.splitlines():
                verdict = "same"
                same += 1
            else:
                verdict = f"DIFFERENT: flytekit {fk_out.splitlines()} airfoil {af_out.splitlines()}"
            print(f"{program.stem:34} flytekit {fk_s:5.1f}s  airfoil {af_s:5.1f}s  {verdict}")
            if args.write_expected and fk_rc == 0:
                program.with_suffix(".out").write_text(fk_out)
    print(f"{same}/{len(programs)} programs give flytekit's output (load {os.getloadavg()[0]:.2f})")
    return 0 if same == len(programs) else 1


if __name__ == "__main__":
    raise SystemExit(main())
