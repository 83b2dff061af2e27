"""A queued attempt's reason, as ``GET /cluster`` shows it to a key of another project: the
attempts it names of projects the key may not read are unnamed, every other word kept."""

from __future__ import annotations

import pytest

from airfoil.server._cluster import _unnamed

pytestmark = pytest.mark.unit

HIDDEN = {"e-secret/train", "e-other/n0"}


def test_a_hidden_attempt_is_unnamed_in_either_quote() -> None:
    assert _unnamed("behind 'e-secret/train', which cannot start yet", HIDDEN) == (
        "behind another project's attempt, which cannot start yet"
    )
    assert _unnamed('reserved for gang "e-other/n0": starting now', HIDDEN) == (
        "reserved for gang another project's attempt: starting now"
    )


def test_a_readable_attempt_and_a_project_keep_their_names() -> None:
    reason = "project 'mine' over quota; behind 'e-mine/a' and 'e-secret/train'"
    assert _unnamed(reason, HIDDEN) == (
        "project 'mine' over quota; behind 'e-mine/a' and another project's attempt"
    )


def test_a_name_that_only_contains_a_hidden_one_is_kept() -> None:
    # Whole quoted names are compared: 'e-secret/train-2' is not 'e-secret/train'.
    assert _unnamed("behind 'e-secret/train-2'", HIDDEN) == "behind 'e-secret/train-2'"


def test_nothing_hidden_leaves_the_reason_as_it_is() -> None:
    assert _unnamed("behind 'e-secret/train'", set()) == "behind 'e-secret/train'"
