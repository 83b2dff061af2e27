import os
from typing import Tuple

import airfoil.compat.flytekit as flytekit
from airfoil.compat.flytekit import Secret, task, workflow
from airfoil.compat.flytekit.testing import SecretsManager

GROUP = "service-creds"


@task(
    secret_requests=[Secret(group=GROUP, key="token", mount_requirement=Secret.MountType.ENV_VAR)]
)
def token_len() -> int:
    return len(flytekit.current_context().secrets.get(GROUP, "token"))


@task(secret_requests=[Secret(key="user", group=GROUP), Secret(key="pass", group=GROUP)])
def login() -> Tuple[str, str]:
    ctx = flytekit.current_context()
    return ctx.secrets.get(GROUP, "user"), ctx.secrets.get(GROUP, "pass")[::-1]


@workflow
def wf() -> Tuple[int, str, str]:
    user, reversed_pass = login()
    return token_len(), user, reversed_pass


if __name__ == "__main__":
    sm = SecretsManager()
    os.environ[sm.get_secrets_env_var(GROUP, "token")] = "abcdefgh"
    os.environ[sm.get_secrets_env_var(GROUP, "user")] = "ada"
    os.environ[sm.get_secrets_env_var(GROUP, "pass")] = "s3cret"
    print(wf())
