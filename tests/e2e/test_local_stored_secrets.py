"""`airfoil secrets set` stores a secret encrypted in the database, and a *local* run reads it
(it was read by a server only: a local run saw only AIRFOIL_SECRET_<NAME>, so a secret a
user had just stored was "not set"). Per project, behind the same key, overridden by the
environment; a wrong key or a deleted secret fails the launch naming the secret."""

from __future__ import annotations

import textwrap
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.e2e

FLOW = textwrap.dedent(
    """
    import hashlib

    import airfoil as af


    @af.task(secret_requests=["hf_token"])
    def fingerprint(salt: str) -> str:
        token = af.current_context().secrets["hf_token"]
        return hashlib.sha256((salt + token).encode()).hexdigest()[:12]


    @af.workflow
    def wf(salt: str = "s") -> str:
        return fingerprint(salt=salt)
    """
)


def _fingerprint(token: str) -> str:
    import hashlib

    return hashlib.sha256(("s" + token).encode()).hexdigest()[:12]


def test_a_local_run_reads_the_secrets_stored_for_its_project(cli: Any, tmp_path: Path) -> None:
    flow = tmp_path / "flow.py"
    flow.write_text(FLOW)
    key = cli("secrets", "new-key").out.strip()
    alpha = {"AIRFOIL_PROJECT": "alpha", "AIRFOIL_SECRETS_KEY": key}
    stored = cli("secrets", "set", "hf_token", env=alpha, stdin="tok-alpha\n")  # piped
    assert stored.code == 0 and "project 'alpha' stored" in stored.err, stored.err
    assert cli("secrets", "list", "--json", env=alpha).json() == ["hf_token"]

    run = cli("run", "--json", str(flow), "wf", env=alpha)
    assert run.code == 0, run.err  # main: "requests secret 'hf_token', which is not set"
    assert run.json()["outputs"] == {"o0": _fingerprint("tok-alpha")}
    assert "tok-alpha" not in run.out + run.err

    # the environment wins over the stored value
    env_run = cli("run", "--json", str(flow), "wf", env={**alpha, "AIRFOIL_SECRET_HF_TOKEN": "e"})
    assert env_run.json()["outputs"] == {"o0": _fingerprint("e")}

    # another project has none of alpha's
    beta = cli("run", str(flow), "wf", env={**alpha, "AIRFOIL_PROJECT": "beta"})
    assert beta.code != 0 and "requests secret 'hf_token', which is not set" in beta.err
    assert "airfoil secrets set hf_token --project beta" in beta.err

    # without the key the stored value is out of reach; with another key it is an error
    nokey = cli("run", str(flow), "wf", env={"AIRFOIL_PROJECT": "alpha", "AIRFOIL_SECRETS_KEY": ""})
    assert nokey.code != 0 and "which is not set" in nokey.err
    other = cli("secrets", "new-key").out.strip()
    wrong = cli("run", str(flow), "wf", env={**alpha, "AIRFOIL_SECRETS_KEY": other})
    assert wrong.code != 0 and "cannot be decrypted with this AIRFOIL_SECRETS_KEY" in wrong.err
    assert "Traceback" not in wrong.err

    # deleted: gone for the next launch
    gone = cli("secrets", "delete", "hf_token", env=alpha)
    assert gone.code == 0 and "deleted" in gone.err, gone.err
    after = cli("run", str(flow), "wf", env=alpha)
    assert after.code != 0 and "which is not set" in after.err
    again = cli("secrets", "delete", "hf_token", env=alpha)
    assert again.code != 0 and "no secret 'hf_token' in project 'alpha'" in again.err
