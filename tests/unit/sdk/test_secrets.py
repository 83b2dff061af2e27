"""Secrets: values only by name, never in a printed form; scrubbing of known values."""

from __future__ import annotations

import copy
import json
import os
import pickle
import stat
import tempfile
from pathlib import Path

import pytest

import airfoil as af
from airfoil.sdk._context import REDACTED, ExecutionContext, Secrets, scrub
from airfoil.sdk._secret_files import shared_path

VALUE = "hunter2-'quoted'\n\\slash"


def test_values_only_by_name() -> None:
    s = Secrets({"token": VALUE, "user": "bob"})
    assert s["token"] == VALUE and s.get("user") == "bob" and s.get("nope") is None
    assert "token" in s and "nope" not in s and len(s) == 2
    assert list(s) == ["token", "user"] == s.keys()
    assert not hasattr(s, "values") and not hasattr(s, "items")
    with pytest.raises(KeyError, match=r"no secret 'nope'.*secret_requests"):
        s["nope"]


@pytest.mark.parametrize(
    "render",
    [
        repr,
        str,
        lambda s: f"{s}",
        lambda s: f"{s!r}",
        lambda s: "%s" % (s,),  # noqa: UP031 - the old formatting too
        lambda s: f"{s:>80}",
    ],
)
def test_no_printed_form_shows_a_value(render: object) -> None:
    s = Secrets({"token": VALUE})
    text = render(s)  # type: ignore[operator]
    assert "token" in text and REDACTED in text and "hunter2" not in text


def test_the_context_prints_names_only() -> None:
    ctx = ExecutionContext("e1", "n0", 1, "mod.t", secrets={"token": VALUE})  # type: ignore[arg-type]
    assert isinstance(ctx.secrets, Secrets)
    for text in (repr(ctx), str(ctx), f"{ctx}", str([ctx]), str({"c": ctx})):
        assert "hunter2" not in text and "'token': '***'" in text


def test_secrets_cannot_be_pickled_copied_or_dumped() -> None:
    s = Secrets({"token": VALUE})
    with pytest.raises(TypeError, match="cannot be pickled"):
        pickle.dumps(s)
    with pytest.raises(TypeError):
        copy.deepcopy(s)
    with pytest.raises(TypeError):
        json.dumps(s)


def test_scrub_replaces_values_and_their_escaped_forms() -> None:
    text = f"raw {VALUE} repr {VALUE!r} json {json.dumps(VALUE)} end"
    out = scrub(text, [VALUE])
    assert "hunter2" not in out and out.startswith("raw *** repr ") and out.endswith(" end")
    assert scrub("abc", []) == "abc" and scrub("", [VALUE]) == ""
    # A value that contains another is replaced whole, not in pieces.
    assert scrub("xx-longer-secret-xx", ["longer", "longer-secret"]) == "xx-***-xx"
    assert scrub("empty value ignored", [""]) == "empty value ignored"


def test_a_secret_as_a_file_is_private_and_removed_with_the_attempt() -> None:
    ctx = ExecutionContext("e1", "n0", 1, "mod.t", secrets={"token": VALUE})  # type: ignore[arg-type]
    path = ctx.secrets.file("token")
    with open(path) as f:
        assert f.read() == VALUE
    assert ctx.secrets.file("token") == path  # written once
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert stat.S_IMODE(os.stat(os.path.dirname(path)).st_mode) == 0o700
    assert "hunter2" not in path
    with pytest.raises(KeyError, match="no secret 'nope'"):
        ctx.secrets.file("nope")
    ctx.cleanup()
    assert not os.path.exists(path)


def test_a_task_reads_its_secret_from_a_file(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AIRFOIL_SECRET_API_KEY", "k-42")

    @af.task(secret_requests=["api-key"])
    def from_file() -> str:
        path = af.current_context().secrets.file("api-key")
        with open(path) as f:
            return f"{len(f.read())}:{os.path.basename(path)}"

    assert from_file() == "4:api-key"


def test_a_shared_secret_file_lives_while_any_attempt_holds_it(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    path = shared_path("Group", "../Key")  # lower-cased, no way out of the directory
    assert path == str(tmp_path / f"airfoil-secrets-{os.getuid()}" / "group" / "_.._key")
    a, b = Secrets({"g.k": VALUE}), Secrets({"g.k": VALUE})
    assert a.shared_file("g.k", path) == path == a.shared_file("g.k", path)
    assert b.shared_file("g.k", path) == path  # a second attempt at once shares it
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    a.close()
    with open(path) as f:
        assert f.read() == VALUE  # still held by b
    b.close()
    assert not os.path.exists(path) and not os.path.exists(path + ".users")
    with pytest.raises(KeyError, match="no secret 'nope'"):
        a.shared_file("nope", path)


def test_a_shared_secret_file_holding_another_value_is_left_alone(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    # the same name's secret of another project on a shared worker: never overwritten or read
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    path = shared_path("g", "k")
    other, mine = Secrets({"g.k": "theirs"}), Secrets({"g.k": VALUE})
    other.shared_file("g.k", path)
    private = mine.shared_file("g.k", path)
    assert private != path
    with open(private) as f:
        assert f.read() == VALUE
    with open(path) as f:
        assert f.read() == "theirs"
    mine.close()
    other.close()
    assert not os.path.exists(private) and not os.path.exists(path)


def test_a_secrets_directory_others_can_use_is_refused(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    base = tmp_path / f"airfoil-secrets-{os.getuid()}"
    base.mkdir(mode=0o777)
    base.chmod(0o777)
    with pytest.raises(PermissionError, match="mode 0700"):
        Secrets({"g.k": VALUE}).shared_file("g.k", shared_path("g", "k"))
    assert not (base / "g").exists()
