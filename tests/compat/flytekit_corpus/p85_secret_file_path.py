"""Secrets set for a local run through flytekit.testing.SecretsManager's variable names, and
the path get_secrets_file gives inside a task compared with the one it gives outside
(flytesnacks' use-secrets idiom; the secret itself is never returned here)."""

import os
from typing import Tuple

import airfoil.compat.flytekit as flytekit
from airfoil.compat.flytekit import Secret, task, workflow
from airfoil.compat.flytekit.testing import SecretsManager

GROUP = "db-creds"
USER = "username"
PASSWORD = "password"


@task(secret_requests=[Secret(group=GROUP, key=USER), Secret(group=GROUP, key=PASSWORD)])
def login() -> Tuple[str, int]:
    secrets = flytekit.current_context().secrets
    user = secrets.get(GROUP, USER)
    pwd = secrets.get(GROUP, PASSWORD)
    return user.upper(), len(pwd)


@task(
    secret_requests=[Secret(group=GROUP, key=PASSWORD, mount_requirement=Secret.MountType.ENV_VAR)]
)
def password_file() -> str:
    return flytekit.current_context().secrets.get_secrets_file(GROUP, PASSWORD)


@workflow
def secrets_wf() -> Tuple[str, int, str]:
    user, n = login()
    path = password_file()
    return user, n, path


if __name__ == "__main__":
    sm = SecretsManager()
    os.environ[sm.get_secrets_env_var(GROUP, USER)] = "alice"
    os.environ[sm.get_secrets_env_var(GROUP, PASSWORD)] = "s3cr3t!"
    user, n, path = secrets_wf()
    print(user, n)
    print(path == sm.get_secrets_file(GROUP, PASSWORD))
    print(os.path.basename(path), os.path.basename(os.path.dirname(path)))
