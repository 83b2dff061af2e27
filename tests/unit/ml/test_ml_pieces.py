"""The model layer's pure pieces: references, the search space, saving defaults, drift."""

from __future__ import annotations

from typing import Any

import pytest

from airfoil.core.errors import ConfigError
from airfoil.ml import ModelPickleWarning, parse_ref
from airfoil.ml._persist import load_model, save_model
from airfoil.ml._serve import DriftTracker
from airfoil.ml._training import sample_space

pytestmark = pytest.mark.unit


def test_references_parse_and_bad_ones_say_the_forms() -> None:
    assert (parse_ref("m").name, parse_ref("m:3").version, parse_ref("m@prod").alias) == (
        "m",
        3,
        "prod",
    )
    for bad in ("m:x", "m@", "m:1@a", ":1", "a b"):
        with pytest.raises(ConfigError, match=r"NAME:VERSION|invalid"):
            parse_ref(bad)


def test_a_version_number_past_the_largest_or_not_in_ascii_digits_is_refused() -> None:
    """``m:99999999999999999999`` reached the store: SQLite's ``OverflowError: Python int
    too large to convert to SQLite INTEGER`` (PostgreSQL: integer out of range) from
    ``airfoil serve``, ``models show`` and ``deploy``; ``m:\u0663`` (an Arabic-Indic three)
    was version 3."""
    assert parse_ref("m:2147483647").version == 2**31 - 1
    with pytest.raises(ConfigError, match=r"no version 99999999999999999999 of m: .*2147483647"):
        parse_ref("m:99999999999999999999")
    with pytest.raises(ConfigError, match="NAME:VERSION"):
        parse_ref("m:\u0663")


def test_search_space_draws_distinct_sets_reproducibly() -> None:
    space = {"C": [1, 2, 3], "k": ["a", "b"]}
    sets = sample_space(space, 8, seed=1)
    assert len(sets) == 6 and len({tuple(sorted(s.items())) for s in sets}) == 6
    assert sample_space(space, 3, seed=1) == sample_space(space, 3, seed=1)
    with pytest.raises(ConfigError):
        sample_space({}, 2, 0)
    with pytest.raises(ConfigError):
        sample_space({"C": [1]}, 0, 0)


class _Plain:
    def __init__(self, w: float) -> None:
        self.w = w


def test_unknown_models_are_pickled_with_a_warning() -> None:
    with pytest.warns(ModelPickleWarning, match="_Plain"):
        data, fmt = save_model(_Plain(2.0))
    assert fmt == "pickle" and load_model(data, fmt).w == 2.0
    with pytest.raises(ConfigError, match="unknown model format"):
        load_model(data, "onnx")


def test_drift_compares_serving_with_training() -> None:
    drift = DriftTracker(["x"], {"x": (0.0, 1.0, 0.0)})
    drift.add([{"x": 2.0}, {"x": 4.0}, {"x": None}])
    report = drift.report()["features"]["x"]
    assert report["serving"]["mean"] == 3.0 and report["serving"]["std"] == 1.0
    assert report["serving"]["missing_rate"] == pytest.approx(1 / 3)
    assert report["mean_shift_in_std"] == 3.0


def test_a_predictor_annotated_ndarray_gets_an_array() -> None:
    import numpy as np
    import pandas as pd

    from airfoil.ml import Dataset, Model

    m = Model("arr", init=dict, dataset=Dataset("d", targets=["y"]))

    @m.predictor
    def predictor(obj: object, features: np.ndarray) -> list[str]:
        return [type(features).__name__, str(features.dtype)]

    assert m.wants_array()
    assert m.predict_with(None, pd.DataFrame({"a": [1, 2]})) == ["ndarray", "float64"]
    other = Model("frame", init=dict, dataset=Dataset("d", targets=["y"]))
    other.predictor(lambda obj, features: type(features).__name__)
    assert not other.wants_array()
    assert other.predict_with(None, pd.DataFrame({"a": [1]})) == "DataFrame"


def test_importing_airfoil_ml_is_light_and_its_names_are_curated() -> None:
    import subprocess
    import sys

    code = (
        "import sys, airfoil.ml as m; "
        "heavy = [x for x in ('pandas', 'sklearn', 'fastapi', 'sqlalchemy', 'airfoil.engine') "
        "if x in sys.modules]; print(heavy, sorted(m.__all__))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == (
        "[] ['Dataset', 'LoadedModel', 'Model', 'ModelPickleWarning', 'ModelRegistry', "
        "'RemoteTrainingTimeoutError', 'TrainedModel', 'create_service', 'local_registry', "
        "'parse_ref']"
    )


def test_reader_arguments_that_clash_with_train_arguments_are_refused() -> None:
    from airfoil.core.errors import DefinitionError
    from airfoil.ml import Dataset

    data = Dataset("d", targets=["y"])
    for clash in ("hyperparameters", "registry", "trials", "remote", "timeout", "attach"):
        namespace: dict[str, object] = {}
        exec(f"def reader({clash}: int) -> list[int]:\n    return []", namespace)
        with pytest.raises(DefinitionError, match=f"'{clash}' clashes"):
            data.reader(namespace["reader"])  # type: ignore[arg-type]


@pytest.mark.parametrize("given", ["m:1", "m@production", "m@staging"])
def test_a_rollback_given_a_reference_says_it_takes_the_name(given: str, tmp_path: Any) -> None:
    """``airfoil models rollback m:1 production`` said "'m:1' has no alias 'production':
    promote a version first (`airfoil models promote m:1:VERSION production`)", a command
    that cannot work; a reference is refused, naming the two commands that can."""
    from typer.testing import CliRunner

    from airfoil.cli.main import app
    from airfoil.ml import ModelRegistry
    from airfoil.store.blob import open_blob_store
    from airfoil.store.memory_artifacts import MemoryArtifactStore

    reg = ModelRegistry(MemoryArtifactStore(), open_blob_store(str(tmp_path)), "p")
    reg.publish("m", b"one", kind="model")
    reg.promote("m:1", "production")
    with pytest.raises(ConfigError) as refused:
        reg.rollback(given, "production")
    said = str(refused.value)
    assert "takes the model's name" in said, said
    assert "airfoil models rollback m production" in said, said
    assert "airfoil models promote m:VERSION production" in said, said
    env = {"AIRFOIL_SERVER_URL": "http://127.0.0.1:9"}  # refused before any call
    out = CliRunner().invoke(app, ["models", "rollback", given, "production", "--remote"], env=env)
    assert out.exit_code != 0 and "takes the model's name" in out.output, out.output


def test_an_unset_latest_alias_says_the_bare_name_is_the_newest(tmp_path: Any) -> None:
    """``m@latest`` said to promote a version to ``latest`` first: an alias that then stays
    on that version while newer ones are trained (a stale "latest"); the bare name is the
    newest version, and an alias named so that was promoted still resolves."""
    from airfoil.core.errors import NotFoundError
    from airfoil.ml import ModelRegistry
    from airfoil.store.blob import open_blob_store
    from airfoil.store.memory_artifacts import MemoryArtifactStore

    reg = ModelRegistry(MemoryArtifactStore(), open_blob_store(str(tmp_path)), "p")
    reg.publish("m", b"one", kind="model")
    reg.publish("m", b"two", kind="model")
    with pytest.raises(NotFoundError) as latest:
        reg.resolve("m@latest")
    said = str(latest.value)
    assert "the bare name 'm' names its newest version" in said
    assert "airfoil models promote" not in said, said
    assert reg.resolve("m").version == 2
    with pytest.raises(NotFoundError, match="promote a version first"):
        reg.resolve("m@production")
    reg.promote("m:1", "latest")  # one that was set is what it says
    assert reg.resolve("m@latest").version == 1


def test_a_numpy_nan_nested_in_a_list_is_found_as_not_finite() -> None:
    """``list(est.predict(x).astype(np.float32))`` holding a NaN: a float32 is no ``float``,
    so the check passed it and pydantic wrote it as ``null`` in a 200."""
    import numpy as np

    from airfoil.ml._serve import non_finite

    assert non_finite([np.float32(1.5), np.float32("nan")]) == ["predictions[1]: nan"]
    assert non_finite([[np.float32("inf")], [1.0]]) == ["predictions[0][0]: inf"]
    assert non_finite({"a": np.array([1.0, -np.inf])}) == ["predictions['a'][1]: -inf"]
    assert non_finite([np.float32(2.0), np.int64(3)]) == []


def test_a_predictor_answering_fewer_predictions_than_rows_is_refused() -> None:
    """``Model.predict`` and ``batch_predict`` returned what a predictor that drops rows
    (``dropna``) answered: 2 predictions for 3 rows, the third row's paired with the second.
    Both go through ``predict_with``, which says how many it got for how many rows."""
    import numpy as np
    import pandas as pd

    from airfoil.ml import Dataset, Model
    from airfoil.ml._model import MisalignedPredictions

    m = Model("dropper", init=dict, dataset=Dataset("dropper_data", targets=["y"]))

    @m.predictor
    def drop(est: Any, features: pd.DataFrame) -> list[float]:
        return list(features["x"].dropna())

    rows = pd.DataFrame({"x": [1.0, None, 2.0]})
    with pytest.raises(MisalignedPredictions, match="returned 2 predictions for 3 rows"):
        m.predict_with(None, rows)
    assert m.predict_with(None, rows.fillna(0.0)) == [1.0, 0.0, 2.0]
    m.predictor(lambda est, features: np.zeros(4))
    with pytest.raises(MisalignedPredictions, match="returned 4 predictions for 3 rows"):
        m.predict_with(None, rows)
    m.predictor(lambda est, features: {"mean": 1.0})  # not one per row: the predictor's own
    assert m.predict_with(None, rows) == {"mean": 1.0}


def test_the_alias_watcher_logs_a_failing_polls_traceback_once(
    tmp_path: Any, caplog: pytest.LogCaptureFixture
) -> None:
    """A version whose bytes cannot be loaded: every poll (each 10 s retry) logged a full
    traceback. Now the first failure has it, the same failure again is one line, and
    another error has its own traceback."""
    import logging
    import pickle
    import time

    from airfoil.ml import Dataset, Model, ModelRegistry
    from airfoil.ml._serve import ModelService
    from airfoil.store.blob import open_blob_store
    from airfoil.store.memory_artifacts import MemoryArtifactStore

    reg = ModelRegistry(MemoryArtifactStore(), open_blob_store(str(tmp_path)), "p")
    m = Model("w", init=dict, dataset=Dataset("w_data", targets=["y"]))
    m.predictor(lambda est, features: [0.0] * len(features))
    reg.publish("w", pickle.dumps({"a": 1}), kind="model")
    reg.promote("w:1", "prod")

    class Failing(ModelService):
        def __init__(self) -> None:
            super().__init__(m, reg, "w@prod", poll_s=0.01, loaded=None)
            self.errors = [ValueError("bad bytes")] * 4 + [OSError("disk gone")] * 2

        def check_once(self) -> bool:
            if self.errors:
                raise self.errors.pop(0)
            return False

    service = Failing()
    with caplog.at_level(logging.INFO, logger="airfoil.ml.serve"):
        service.start()
        deadline = time.monotonic() + 10
        while service.errors and time.monotonic() < deadline:
            time.sleep(0.01)
        time.sleep(0.1)
        service.stop()
    records = [r for r in caplog.records if "new version" in r.getMessage()]
    traced = [r.getMessage() for r in records if r.exc_info]
    assert len(traced) == 2, [r.getMessage() for r in records]  # main: 6
    again = [r.getMessage() for r in records if "failed again" in r.getMessage()]
    assert len(again) == 4 and "ValueError: bad bytes" in again[0], again
    assert any("works again" in r.getMessage() for r in records)
