"""A model service replica (a tenant's predictor code) starts without the server's secrets
key, API key or local secrets, and with what it needs to open the registry."""

from __future__ import annotations

import pytest

from airfoil.server._supervisor import ServiceEnv

pytestmark = pytest.mark.unit


def test_a_replica_gets_the_registry_but_not_the_secrets_key(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("AIRFOIL_SECRETS_KEY", "k")
    monkeypatch.setenv("AIRFOIL_API_KEY", "af_x_y")
    monkeypatch.setenv("AIRFOIL_SECRET_TOKEN", "t")
    monkeypatch.setenv("PGPASSWORD", "pw")
    service = ServiceEnv("/h", "postgresql+psycopg://u:pw@db/x", "/h/blobs", "/h/logs")
    env = service.environ("ml", "m")
    assert not {"AIRFOIL_SECRETS_KEY", "AIRFOIL_API_KEY", "AIRFOIL_SECRET_TOKEN"} & set(env)
    assert env["AIRFOIL_DATABASE_URL"] == "postgresql+psycopg://u:pw@db/x"
    assert env["PGPASSWORD"] == "pw" and env["AIRFOIL_PROJECT"] == "ml"


def test_a_replica_gets_its_deployments_key_never_the_servers(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """(adv21) The server's model key reaches no replica: each gets its deployment's."""
    from airfoil.core.worker_env import deployment_key, key_scope

    monkeypatch.setenv("AIRFOIL_MODEL_KEY", "server-key")
    assert "AIRFOIL_MODEL_KEY" not in ServiceEnv("/h", None, "/b", "/l").environ("ml", "m")
    env = ServiceEnv("/h", None, "/b", "/l", model_key="server-key")
    assert "server-key" not in repr(env)
    a, b = env.environ("ml", "m"), env.environ("ml2", "m")
    assert a["AIRFOIL_MODEL_KEY"] == deployment_key("server-key", key_scope("ml", "m"))
    assert a["AIRFOIL_MODEL_KEY"] != b["AIRFOIL_MODEL_KEY"]
    assert "server-key" not in a.values()
