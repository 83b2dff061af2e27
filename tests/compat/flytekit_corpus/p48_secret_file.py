import os

from airfoil.compat.flytekit import Secret, current_context, task, workflow

# Locally, flytekit reads a secret from its environment variable, Airfoil from
# AIRFOIL_SECRET_<NAME>; a file-mounted secret is read from the file the context names.
os.environ.setdefault("AIRFOIL_SECRET_CREDS_API_KEY", "k-123456")
os.environ.setdefault("_FSEC_CREDS_API_KEY", "k-123456")

SECRET = Secret(group="creds", key="api_key", mount_requirement=Secret.MountType.FILE)


@task(secret_requests=[SECRET])
def key_suffix() -> str:
    secrets = current_context().secrets
    value = secrets.get("creds", "api_key")
    path = secrets.get_secrets_file("creds", "api_key")
    from_file = value
    if os.path.exists(path):
        with open(path) as f:
            from_file = f.read().strip()
    return f"{from_file[-3:]} {from_file == value}"


@workflow
def wf() -> str:
    return key_suffix()


if __name__ == "__main__":
    print(wf())
