"""The one list of what a worker never inherits (airfoil.core.worker_env)."""

from __future__ import annotations

import pytest

from airfoil.core.worker_env import is_denied, worker_environ

pytestmark = pytest.mark.unit


@pytest.mark.parametrize(
    "name",
    [
        "AIRFOIL_SECRETS_KEY",
        "airfoil_secrets_key",  # settings match names in any case: so does the list
        "AIRFOIL_DATABASE_URL",
        "AIRFOIL_API_KEY",
        "AIRFOIL_SECRET_TOKEN",
        "PGPASSWORD",
    ],
)
def test_the_platforms_credentials_are_denied(name: str) -> None:
    assert is_denied(name)


def test_the_rest_passes() -> None:
    env = {
        "PATH": "/bin",
        "AIRFOIL_HOME": "/h",
        "AIRFOIL_PACKAGE_CACHE": "/p",
        "AWS_ACCESS_KEY_ID": "a",  # the blob store's: workers write the outputs
        "AIRFOIL_SECRETS_KEY": "k",
        "AIRFOIL_SECRET_X": "s",
    }
    assert worker_environ(env) == {
        "PATH": "/bin",
        "AIRFOIL_HOME": "/h",
        "AIRFOIL_PACKAGE_CACHE": "/p",
        "AWS_ACCESS_KEY_ID": "a",
    }


def test_the_settings_credential_is_on_the_list() -> None:
    from airfoil.settings import ENV_PREFIX, FIELDS

    assert "database_url" in FIELDS
    assert is_denied(ENV_PREFIX + "database_url")
