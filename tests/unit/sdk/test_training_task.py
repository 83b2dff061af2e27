"""``@af.training_task`` specs and their errors, checkpoints in a blob store, and the Ray gang's
placement rule (pure)."""

from __future__ import annotations

from pathlib import Path

import pytest

import airfoil as af
from airfoil.core.errors import ConfigError, DefinitionError
from airfoil.executors._gang import GangPlan
from airfoil.executors._ray_gang import placement_strategy
from airfoil.sdk._checkpoint import Checkpoint
from airfoil.sdk._training import TrainingConfig
from airfoil.store.blob import LocalBlobStore

pytestmark = pytest.mark.unit


def test_a_training_task_asks_for_its_whole_gang_and_keeps_its_config() -> None:
    @af.training_task(
        workers=3,
        resources_per_worker=af.Resources(cpu="1.5", mem="1Gi", gpu=1),
        backend="nccl",
        max_restarts=5,
    )
    def train(steps: int) -> float:
        return 0.0

    spec = train.spec
    assert spec.task_type == "training"
    assert (spec.requests.cpu, spec.requests.mem, spec.requests.gpu) == (4.5, 3 * 2**30, 3)
    config = TrainingConfig.decode(spec.config)
    assert config == TrainingConfig(
        workers=3, cpu=1.5, mem=2**30, gpu=1, backend="nccl", max_restarts=5
    )
    assert spec.config["gang"] is True


@pytest.mark.parametrize(
    ("kwargs", "says"),
    [
        ({"workers": 0}, "at least 1 worker"),
        ({"workers": 2, "backend": "mpi"}, "unknown backend 'mpi'"),
        ({"workers": 2, "placement": "anywhere"}, "unknown placement"),
        ({"workers": 2, "max_restarts": -1}, "max_restarts must be 0 or more"),
        ({"workers": 2, "requests": af.Resources(cpu=2)}, "resources_per_worker instead"),
        ({"workers": True}, "workers must be an int"),
    ],
)
def test_bad_settings_are_definition_errors_naming_the_fix(kwargs: dict, says: str) -> None:
    with pytest.raises(DefinitionError, match=says):
        af.training_task(**kwargs)


def test_a_damaged_config_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="invalid training task config"):
        TrainingConfig.decode({"workers": "two"})


def test_checkpoints_save_and_load_the_latest_step(tmp_path: Path) -> None:
    blobs = LocalBlobStore(str(tmp_path / "blobs"))
    ckpt = Checkpoint(blobs, "checkpoints/e1/n0")
    assert ckpt.load() is None and ckpt.step is None
    ckpt.save({"w": [1, 2]}, step=4)
    ckpt.save({"w": [3, 4]}, step=8)
    assert ckpt.load() == (8, {"w": [3, 4]})
    # Another handle on the same series (a restarted rank) sees the same latest.
    assert Checkpoint(blobs, "checkpoints/e1/n0").step == 8
    assert Checkpoint(blobs, "checkpoints/e1/n1").load() is None
    with pytest.raises(ConfigError, match="older than the latest"):
        ckpt.save({}, step=7)
    with pytest.raises(ConfigError, match="non-negative int"):
        ckpt.save({}, step=-1)


def test_a_folder_checkpoint_round_trips(tmp_path: Path) -> None:
    blobs = LocalBlobStore(str(tmp_path / "blobs"))
    ckpt = Checkpoint(blobs, "checkpoints/e1/n0")
    src = tmp_path / "model"
    (src / "sub").mkdir(parents=True)
    (src / "weights.bin").write_bytes(b"\x00\x01")
    (src / "sub" / "cfg.json").write_text("{}")
    ckpt.save_folder(str(src), step=3)
    with pytest.raises(ConfigError, match="load it with load_folder"):
        ckpt.load()
    loaded = ckpt.load_folder(str(tmp_path / "back"))
    assert loaded is not None and loaded[0] == 3
    back = Path(loaded[1])
    assert (back / "weights.bin").read_bytes() == b"\x00\x01"
    assert (back / "sub" / "cfg.json").read_text() == "{}"
    with pytest.raises(ConfigError, match="does not exist"):
        ckpt.save_folder(str(tmp_path / "nowhere"), step=4)


def test_the_context_outside_a_training_task_has_no_checkpoints() -> None:
    with pytest.raises(ConfigError, match="training task"):
        af.current_context().checkpoint  # noqa: B018


def test_a_gang_fills_as_few_nodes_as_it_can_unless_told_otherwise() -> None:
    assert placement_strategy(GangPlan(workers=2)) == "PACK"
    assert placement_strategy(GangPlan(workers=2, placement="pack")) == "STRICT_PACK"
    assert placement_strategy(GangPlan(workers=2, placement="spread")) == "STRICT_SPREAD"
