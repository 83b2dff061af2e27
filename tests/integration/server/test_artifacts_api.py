"""The artifact registry over HTTP (a real server, SQLite and PostgreSQL): list, detail,
one version, promote and roll back through the client and ``airfoil models --remote``;
bad requests are clear 4xx errors."""

from __future__ import annotations

import hashlib
import json
import time
from typing import Any

import msgspec
import pytest
from _srv import Running
from typer.testing import CliRunner

from airfoil.client import ApiCallError, Artifacts
from airfoil.store.artifacts import open_artifact_store
from airfoil.testing.artifact_conformance import make_draft

pytestmark = pytest.mark.integration


def _seed(server: Running, project: str) -> list[str]:
    """Versions 1 and 2 of ``digits``, their bytes in the server's blob store (a version
    without them cannot be promoted); returns their URIs."""
    store = open_artifact_store(server.database_url, str(server.home))
    uris = []
    try:
        for body in (b"model one", b"model two"):
            sha = hashlib.sha256(body).hexdigest()
            uri = server.deps.blobs.put_bytes(f"artifacts/{project}/digits/{sha}", body)
            draft = make_draft("digits", sha, project=project)
            store.add_version(msgspec.structs.replace(draft, uri=uri), time.time())
            uris.append(uri)
    finally:
        store.close()
    return uris


def test_the_registry_over_http(server: Running, client: Any) -> None:
    _seed(server, client.project)
    api = Artifacts(client)
    listed = api.list()
    assert [(a.name, a.version) for a in listed.items] == [("digits", 2)]
    assert listed.items[0].lineage["dataset_hash"] == "d1"
    first = api.promote("digits", 1, "production", reason="first")
    assert (first.from_version, first.to_version, first.action) == (None, 1, "promote")
    api.promote("digits", 2, "production")
    back = api.rollback("digits", "production")
    assert (back.from_version, back.to_version, back.action) == (2, 1, "rollback")
    detail = api.detail("digits")
    assert detail.aliases == {"production": 1}
    assert [m.seq for m in detail.moves] == [1, 2, 3] and detail.moves[0].reason == "first"
    assert api.version("digits", 1).aliases == ["production"]
    with pytest.raises(ApiCallError) as missing:
        api.version("digits", 9)
    assert missing.value.status == 404
    with pytest.raises(ApiCallError) as nowhere:
        api.promote("digits", 7, "staging")
    assert nowhere.value.status == 404
    with pytest.raises(ApiCallError) as bad_alias:
        api.promote("digits", 1, "prod:1")
    assert bad_alias.value.status in (400, 422) and "invalid alias" in str(bad_alias.value)


def test_a_version_number_no_version_can_have_is_a_404(server: Running, client: Any) -> None:
    """Past the largest version (the store's 32-bit column) or not ASCII digits (``isdigit``
    takes ``\u00b2`` and ``\u0663``): a 404 saying versions are numbers; before, a 500
    (``int('\u00b2')``, SQLite's ``OverflowError``) or version 3 for ``\u0663``."""
    import httpx

    _seed(server, client.project)
    base = f"{server.url}/api/v1/projects/{client.project}/artifacts/digits/versions/"
    for bad in ("99999999999999999999", "2147483648", "\u00b2", "\u0663", "1\u0661"):
        r = httpx.get(base + bad, timeout=30)
        assert r.status_code == 404, (bad, r.status_code, r.text)
        assert "versions are numbers from 1 to 2147483647" in r.text, r.text
    assert httpx.get(base + "2", timeout=30).json()["version"] == 2


def test_a_version_whose_bytes_are_gone_is_not_promoted_nor_rolled_back_to(
    server: Running, client: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """As the local registry: the alias stays, a 404 names the version and what to do
    (before, the server moved it: services kept the old version while the registry said the
    new one, and every new replica failed to load it)."""
    from airfoil.cli.main import app

    one, _ = _seed(server, client.project)
    api = Artifacts(client)
    api.promote("digits", 1, "production")
    api.promote("digits", 2, "production")
    server.deps.blobs.delete(one)
    with pytest.raises(ApiCallError) as refused:
        api.promote("digits", 1, "staging")
    said = str(refused.value)
    assert refused.value.status == 404, said
    assert "digits:1" in said and "'staging' was not moved" in said, said
    assert "register the model again" in said, said
    with pytest.raises(ApiCallError) as back:
        api.rollback("digits", "production")
    assert back.value.status == 404 and "'production' was not rolled back" in str(back.value)
    assert api.detail("digits").aliases == {"production": 2}
    assert [m.to_version for m in api.detail("digits").moves] == [1, 2]
    monkeypatch.setenv("AIRFOIL_PROJECT", client.project)
    base = ["--remote", "--server", server.url]
    cli = CliRunner().invoke(app, ["models", "promote", "digits:1", "staging", *base])
    assert cli.exit_code == 2 and "was not moved" in cli.output, cli.output


def test_a_version_whose_bytes_do_not_match_their_hash_is_not_promoted(
    server: Running, client: Any
) -> None:
    """Damaged bytes (other than published): the server moved the alias (it checked
    only that they exist), and every service following it failed to load them. A 409
    naming the version and the fix; the alias stays."""
    one, _ = _seed(server, client.project)
    api = Artifacts(client)
    api.promote("digits", 2, "production")
    server.deps.blobs.put_bytes("artifacts/" + one.split("/artifacts/", 1)[1], b"x")
    with pytest.raises(ApiCallError) as refused:
        api.promote("digits", 1, "production")  # main: moved
    said = str(refused.value)
    assert refused.value.status == 409, said
    assert "digits:1" in said and "no longer match the hash" in said, said
    assert "'production' was not moved" in said and "retrain" in said, said
    assert api.detail("digits").aliases == {"production": 2}


def test_models_cli_remote(server: Running, client: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    from airfoil.cli.main import app

    _seed(server, client.project)
    monkeypatch.setenv("AIRFOIL_PROJECT", client.project)
    runner = CliRunner()
    base = ["--remote", "--server", server.url]
    moved = runner.invoke(app, ["models", "promote", "digits:2", "production", *base, "--json"])
    assert moved.exit_code == 0, moved.output
    assert json.loads(moved.stdout)["to_version"] == 2
    shown = runner.invoke(app, ["models", "show", "digits@production", *base, "--json"])
    assert shown.exit_code == 0, shown.output
    data = json.loads(shown.stdout)
    assert [v["version"] for v in data["versions"]] == [2]
    assert data["alias_moves"][0]["to_version"] == 2
    listed = runner.invoke(app, ["models", "list", *base, "--json"])
    assert json.loads(listed.stdout)[0]["aliases"] == {"production": 2}
    gone = runner.invoke(app, ["models", "rollback", "digits", "production", *base])
    assert gone.exit_code == 2 and "no earlier version" in gone.output


def test_publish_a_version_from_uploaded_bytes(server: Running, client: Any, flow: Any) -> None:
    """``POST .../artifacts/{name}/versions`` adds a version from bytes uploaded first, with a
    succeeded execution of the project in its lineage; the same bytes again are the same
    version; an unknown upload, another project's execution and a failed one are refused."""
    from airfoil.client import Client

    client.register([flow.wf, flow.broken])
    ok = client.launch(flow.wf, {"x": 2}).id
    bad = client.launch(flow.broken, {"x": 2}).id
    assert client.wait(ok).phase == "succeeded" and client.wait(bad).phase == "failed"
    api = client.artifacts()
    first = api.publish(
        "churn",
        b"model bytes",
        kind="model",
        execution_id=ok,
        lineage={"dataset_hash": "d9"},
        metrics={"f1": 0.5},
        metadata={"format": "pickle"},
    )
    assert first.created and first.version.version == 1 and first.version.kind == "model"
    assert first.version.execution_id == ok and first.version.lineage == {"dataset_hash": "d9"}
    again = api.publish("churn", b"model bytes", kind="model", execution_id=ok)
    assert not again.created and again.version.version == 1
    assert api.publish("churn", b"other bytes", kind="model").version.version == 2
    stored = server.deps.blobs.get_bytes(api.version("churn", 1).uri)
    assert stored == b"model bytes"

    body = {"sha256": "0" * 64, "kind": "model"}
    with pytest.raises(ApiCallError) as no_upload:
        client._call("POST", f"/projects/{client.project}/artifacts/churn/versions", json=body)
    assert no_upload.value.status == 404 and "upload the bytes" in str(no_upload.value)
    with pytest.raises(ApiCallError) as failed:
        api.publish("churn", b"x", execution_id=bad)
    assert failed.value.status == 422 and "failed" in str(failed.value)
    with Client(server.url, project=client.project + "x") as other:
        with pytest.raises(ApiCallError) as elsewhere:
            other.artifacts().publish("churn", b"x", execution_id=ok)
        assert elsewhere.value.status == 404 and "no execution" in str(elsewhere.value)
    with pytest.raises(ApiCallError) as bad_name:
        api.publish("churn:2", b"x")
    assert bad_name.value.status in (400, 422)
    with pytest.raises(ApiCallError) as bad_hash:
        client._call(
            "POST",
            f"/projects/{client.project}/artifacts/churn/versions",
            json={"sha256": "xyz"},
        )
    assert bad_hash.value.status == 422


def test_a_metric_that_is_not_a_finite_number_is_a_422_and_the_name_still_lists(
    server: Running, client: Any
) -> None:
    """A JSON body may carry ``NaN`` (Python's json writes it, pydantic reads it): the version
    was stored with it, written as ``null``, and every read of the name's versions failed."""
    api = client.artifacts()
    api.publish("loss", b"good model", kind="model", metrics={"loss": 0.25})
    api.publish("other", b"diverged model", kind="model")  # its bytes are uploaded
    sha = hashlib.sha256(b"diverged model").hexdigest()
    for bad in ("NaN", "Infinity"):
        body = f'{{"sha256": "{sha}", "kind": "model", "metrics": {{"loss": {bad}}}}}'
        with pytest.raises(ApiCallError) as refused:
            client._call(
                "POST",
                f"/projects/{client.project}/artifacts/loss/versions",
                content=body,
                headers={"content-type": "application/json"},
            )
        assert refused.value.status == 422 and "metric 'loss' is" in str(refused.value)
    assert [v.version for v in api.detail("loss").versions] == [1]
    assert api.version("loss", 1).metrics == {"loss": 0.25}


def _store_old_metrics(server: Running, project: str) -> None:
    """Rewrite version 2 of ``digits`` as a version of Airfoil before the store refused
    metrics that are not finite numbers wrote it: ``NaN`` (Python's json) and ``null``
    (msgspec's spelling of NaN and infinity), straight in the table."""
    import sqlalchemy as sa

    url = server.database_url or f"sqlite:///{server.home / 'airfoil.db'}"
    engine = sa.create_engine(url, poolclass=sa.pool.NullPool)
    where = "WHERE project = :p AND name = 'digits' AND version = 2"
    try:
        with engine.begin() as conn:
            (record,) = conn.execute(
                sa.text(f"SELECT record FROM server_artifact_versions {where}"), {"p": project}
            ).one()
            data = json.loads(record)
            data["metrics"] = {"accuracy": 0.91, "loss": float("nan"), "f1": None}
            conn.execute(
                sa.text(f"UPDATE server_artifact_versions SET record = :r {where}"),
                {"r": json.dumps(data), "p": project},  # json.dumps writes NaN as is
            )
    finally:
        engine.dispose()


def test_a_version_stored_with_nan_metrics_lists_and_shows_them_flagged(
    server: Running, client: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Main: every read of the name's versions failed to decode the row (a 500 on the list,
    the detail and the version; ``airfoil models`` exited with a traceback)."""
    from airfoil.cli.main import app

    _seed(server, client.project)
    _store_old_metrics(server, client.project)
    api = Artifacts(client)
    (newest,) = api.list().items
    assert newest.version == 2 and newest.metrics == {"accuracy": 0.91}
    assert newest.invalid_metrics == {"loss": "NaN", "f1": "null"}
    detail = api.detail("digits")
    assert [v.invalid_metrics for v in detail.versions] == [{"loss": "NaN", "f1": "null"}, {}]
    assert api.version("digits", 2).invalid_metrics == {"loss": "NaN", "f1": "null"}
    assert api.promote("digits", 2, "production").to_version == 2  # still a version

    monkeypatch.setenv("AIRFOIL_PROJECT", client.project)
    runner = CliRunner()
    base = ["--remote", "--server", server.url]
    listed = runner.invoke(app, ["models", "list", *base], env={"COLUMNS": "300"})
    assert listed.exit_code == 0, listed.output
    assert "accuracy=0.91, loss=NaN (invalid), f1=null (invalid)" in listed.stdout
    shown = runner.invoke(app, ["models", "show", "digits:2", *base, "--json"])
    assert shown.exit_code == 0, shown.output
    assert json.loads(shown.stdout)["versions"][0]["invalid_metrics"] == {
        "loss": "NaN",
        "f1": "null",
    }
