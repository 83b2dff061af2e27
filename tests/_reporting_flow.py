"""A workflow whose one task (node ``n0``) attaches a report, which the tests of damaged
reports damage by hand: a test runs this file as a flow (:func:`write_flow`)."""

from __future__ import annotations

import shutil
from pathlib import Path

import airfoil as af


@af.task
def evaluate(n: int) -> int:
    af.current_context().report.markdown("# Evaluation\n\nfinal loss **0.25**")
    return n


@af.workflow
def wf(n: int = 3) -> int:
    return evaluate(n=n)


def write_flow(path: Path) -> Path:
    """This workflow's source written to ``path`` (its module name is ``path``'s stem)."""
    shutil.copyfile(__file__, path)
    return path
