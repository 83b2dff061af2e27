"""Why a stored part cannot be read is said in one set of words, chosen by its kind in one
place (``airfoil.core.errors.unreadable_why``) and carried with it: the API's
``UnreadableOut.why``, the local ``--json`` objects (the same keys as the remote ones), the
log search's parts passed over; the CLI prints what it is given (main: the CLI and the
console each chose the words by kind, and the API carried none)."""

from __future__ import annotations

import pytest

from airfoil.cli._common import say_unreadable, unreadable_json
from airfoil.core.errors import UnreadableRecordError, unreadable_why
from airfoil.server._convert import unreadable_out
from airfoil.store._log_search import LeftOut
from airfoil.wire import UnreadableOut

pytestmark = pytest.mark.unit

RECORD = "it was stored by an older or faulty version of Airfoil"
BLOB = "its blob is damaged or was changed by hand"


@pytest.mark.parametrize(
    ("kind", "why"),
    [(k, RECORD) for k in ("execution", "node", "attempt", "event")]
    + [(k, BLOB) for k in ("log", "report")],
)
def test_the_api_carries_why_by_kind(kind: str, why: str) -> None:
    exc = UnreadableRecordError(kind, "e1/n0", "Expected `str`, got `int` - at `$.phase`")
    assert unreadable_why(kind) == exc.why == why
    assert unreadable_out(exc).why == why


def test_local_json_has_the_remote_shape() -> None:
    """``airfoil run --json`` / ``executions show --json`` locally and ``--remote`` (the
    API's ``UnreadableOut``), and ``airfoil logs search`` locally (``LeftOut``)."""
    exc = UnreadableRecordError("node", "e1/n0", "bad")
    remote = UnreadableOut(kind="node", id="e1/n0", reason="bad", why=exc.why).model_dump()
    assert unreadable_json(exc) == remote
    assert set(LeftOut.__struct_fields__) == set(remote)


def test_the_cli_prints_the_why_it_is_given(capsys: pytest.CaptureFixture[str]) -> None:
    say_unreadable({"kind": "log", "id": "e1/n0#1", "reason": "Is a directory", "why": "X Y"})
    say_unreadable({"kind": "node", "id": "e1/n1", "reason": "bad", "why": ""})  # older server
    said = capsys.readouterr().err.splitlines()
    assert said == [
        "unreadable: log e1/n0#1 (left out): Is a directory; X Y",
        "unreadable: node e1/n1 (left out): bad",
    ]
