"""Where a flytekit program's local run behaved differently on Airfoil than under flytekit:
resource requests this machine cannot give (flytekit's local run ignores them), the secrets
manager's file paths outside a task, and dataclasses with mashumaro's mixin."""

from __future__ import annotations

import os
import stat
import tempfile
import warnings
from pathlib import Path

import pytest

import airfoil as af
from airfoil.compat.flytekit import (
    Resources,
    Secret,
    current_context,
    map_task,
    task,
    workflow,
)
from airfoil.compat.flytekit.testing import SecretsManager
from airfoil.core.errors import UnschedulableTaskError

pytestmark = pytest.mark.integration


@task(requests=Resources(gpu="1", mem="64Mi"), limits=Resources(gpu="1"))
def on_gpu(x: int) -> int:
    return x * 2


@task
def plain(x: int) -> int:
    return x + 1


@workflow
def gpu_pipeline(x: int = 3) -> int:
    doubled = on_gpu(x=x)
    return plain(x=doubled).with_overrides(requests=Resources(gpu="2"))


@af.task(requests=af.Resources(gpu=1))
def native_on_gpu(x: int) -> int:
    return x


def test_a_gpu_request_runs_locally_with_one_warning_per_task(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("AIRFOIL_GPUS", "0")  # a machine without a GPU
    with pytest.warns(UserWarning) as seen:
        assert gpu_pipeline(x=3) == 7
        assert gpu_pipeline(x=4) == 9
        assert map_task(on_gpu)(x=[1, 2]) == [2, 4]
    texts = [str(w.message) for w in seen if "not enforced" in str(w.message)]
    assert len(texts) == 2, texts  # once per task, not per run or per attempt
    assert any("on_gpu' requests cpu=0, mem=64Mi, gpu=1" in t for t in texts)
    assert any("plain' requests cpu=0, mem=0Mi, gpu=2" in t for t in texts)  # the override
    assert all("local run" in t and "server or cluster honours it" in t for t in texts)


def test_airfoils_own_tasks_keep_refusing_what_the_machine_lacks(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("AIRFOIL_GPUS", "0")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(UnschedulableTaskError, match=r"native_on_gpu.*gpu=1"):
            native_on_gpu(x=1)


SECRET_GROUP = "user-info"


@task(secret_requests=[Secret(group=SECRET_GROUP, key="user_secret")])
def secret_file_task() -> tuple[str, bool]:
    secrets = current_context().secrets
    path = secrets.get_secrets_file(SECRET_GROUP, "user_secret")
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    with open(path) as f:
        in_file = f.read()
    return path, in_file == secrets.get(SECRET_GROUP, "user_secret")  # (a secret is no output)


@workflow
def secret_pipeline() -> tuple[str, bool]:
    return secret_file_task()


def test_the_secrets_managers_file_path_is_the_one_a_task_gets(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    # flytesnacks' use_secrets idiom: `assert f == sec.get_secrets_file(group, key)`
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    sm = SecretsManager()
    monkeypatch.setenv(sm.get_secrets_env_var(SECRET_GROUP, "user_secret"), "value")
    path, holds_the_value = secret_pipeline()
    assert path == sm.get_secrets_file(SECRET_GROUP, "user_secret")
    assert path.startswith(str(tmp_path)) and path.endswith("/user-info/user_secret")
    assert holds_the_value
    assert not os.path.exists(path)  # removed when the attempt ended
    assert stat.S_IMODE(os.stat(os.path.dirname(path)).st_mode) == 0o700
    with pytest.raises(ValueError, match="group or a key"):
        sm.get_secrets_file()


def test_a_mashumaro_dataclass_may_hold_files_and_datasets(tmp_path: Path) -> None:
    # flytekit's dataclass idiom (DataClassJSONMixin): mashumaro compiles the class when it
    # is defined, and refused a StructuredDataset field ("not serializable")
    pytest.importorskip("mashumaro")
    import _mashumaro_wf as m

    (tmp_path / "d").mkdir()
    (tmp_path / "d" / "a.txt").write_text("a")
    (tmp_path / "f.txt").write_text("hello")
    assert m.bundle_wf(n=3, where=str(tmp_path)) == "hello ['a.txt'] 3 {3: '3'}"
    again = m.Bundle.from_json(m.make(n=2, where=str(tmp_path)).to_json())  # mashumaro's own
    assert again.f.path.endswith("f.txt") and again.sd.file_format == "parquet"
    assert m.Datum.from_json(m.Datum(x=1, z={1: "a"}).to_json()) == m.Datum(x=1, z={1: "a"})
