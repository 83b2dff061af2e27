"""A two-task workflow the tests share: ``wf(x)`` runs ``inc`` twice (nodes ``n0`` and
``n1``) and returns ``x + 2``. A test that drives it as objects imports ``wf``; a test that
runs it as a file (``airfoil run FILE wf``) copies this file (:func:`write_flow`), so the
two cannot drift apart."""

from __future__ import annotations

import shutil
from pathlib import Path

import airfoil as af


@af.task
def inc(x: int) -> int:
    return x + 1


@af.workflow
def wf(x: int = 1) -> int:
    return inc(x=inc(x=x))


def write_flow(path: Path) -> Path:
    """This workflow's source written to ``path`` (its module name is ``path``'s stem)."""
    shutil.copyfile(__file__, path)
    return path
