import os

from airfoil.compat.flytekit import Secret, current_context, task, workflow

os.environ.setdefault("AIRFOIL_SECRET_DB_PASSWORD", "s3cret")
os.environ.setdefault("_FSEC_DB_PASSWORD", "s3cret")


@task(secret_requests=[Secret(group="db", key="password")])
def password_length() -> int:
    return len(current_context().secrets.get("db", "password"))


@workflow
def wf() -> int:
    return password_length()


if __name__ == "__main__":
    print(wf())
