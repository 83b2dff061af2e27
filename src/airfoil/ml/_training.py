"""The training, tuning and batch-prediction workflows of a :class:`~airfoil.ml.Model`.

Each is an ordinary Airfoil workflow built from the model (tasks named
``ml.<model>.read``, ``ml.<model>.fit``, ``ml.<model>.predict``): run by the engine, recorded
in the store (visible in the console and ``airfoil executions``), durable and cached with the
model's code version (the same data, hyperparameters and code train once: the reader runs every
time, unless ``Dataset(cache_reads=True)``, and the fit is keyed by the frame's content).

The fit task returns a :class:`FitResult`; registering it (bytes to the blob store, a version
with lineage to the artifact store) happens after the workflow succeeds.
"""

from __future__ import annotations

import functools
import inspect
import json
import math
import random
import warnings
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from airfoil.core.errors import ConfigError
from airfoil.ml._dataset import content_hash, feature_stats
from airfoil.ml._persist import load_model, save_model
from airfoil.ml._registry import ModelRegistry, TrainedModel, local_registry
from airfoil.ml._remote import ServerClient, ServerRegistry, run_on_server
from airfoil.sdk._context import current_context
from airfoil.sdk._map import map_task
from airfoil.sdk._task import task
from airfoil.sdk._workflow import workflow
from airfoil.store.artifacts import is_metric

if TYPE_CHECKING:
    import pandas as pd

    from airfoil.ml._model import Model

__all__ = [
    "FitResult",
    "ModelTasks",
    "run_batch_prediction",
    "run_training",
    "run_tuning",
    "sample_space",
]

#: Where a trained model can be registered: the local registry or the server's.
Registrar = ModelRegistry | ServerRegistry


@dataclass
class FitResult:
    """What one fit produced: the saved model and what it was made from."""

    model: bytes
    format: str
    metrics: dict[str, float]
    hyperparameters: str
    dataset_hash: str
    features: list[str]
    feature_stats: str
    execution_id: str


def _place(fn: Any, model: Model, kind: str) -> None:
    """Name ``fn`` after the model's variable in its module (``<var>.ml_tasks.<kind>``) when
    the model has one, so a worker process that imports that module finds the task."""
    found = model.address()
    if found is not None:
        fn.__module__ = found[0]
        fn.__qualname__ = f"{found[1]}.ml_tasks.{kind}"


class ModelTasks:
    """The tasks of a model's workflows, built on first use for the model's current code
    version: a worker that imports the model's file finds them as
    ``<model variable>.ml_tasks.read`` / ``.fit`` / ``.predict``."""

    def __init__(self, model: Model) -> None:
        self._model = model
        self._built: dict[tuple[str, str], Any] = {}

    def _get(self, kind: str) -> Any:
        version = self._model.code_version()
        found = self._built.get((kind, version))
        if found is None:
            build = {"read": _read_task, "fit": _fit_task, "predict": _predict_task}[kind]
            found = self._built[(kind, version)] = build(self._model, version)
        return found

    @property
    def read(self) -> Any:
        return self._get("read")

    @property
    def fit(self) -> Any:
        return self._get("fit")

    @property
    def predict(self) -> Any:
        return self._get("predict")


def _read_task(model: Model, version: str) -> Any:
    params = model.dataset.reader_parameters()

    def read(**kwargs: Any) -> pd.DataFrame:
        return model.dataset.read(**kwargs)

    import pandas as pd

    read.__signature__ = inspect.Signature(params, return_annotation=pd.DataFrame)  # type: ignore[attr-defined]
    read.__annotations__ = {**{p.name: p.annotation for p in params}, "return": pd.DataFrame}
    _place(read, model, "read")
    # Not cached unless the dataset asks: the reader may read a file or a table that changed
    # since the last training (its arguments alone would give the old data back); the fit is
    # cached by the read frame's content, so the same data still trains once.
    cache = model.dataset.cache_reads
    return task(name=f"ml.{model.name}.read", cache=cache, cache_version=version)(read)


def _fit_task(model: Model, version: str) -> Any:
    import pandas as pd

    def fit(data: pd.DataFrame, hyperparameters: str) -> FitResult:
        chosen = json.loads(hyperparameters)
        train, test = model.dataset.split(data)
        X, y = model.dataset.parse(train)
        obj = model.fit(chosen, X, y)
        X_test, y_test = model.dataset.parse(test)
        metrics = model.evaluate(obj, X_test, y_test)
        saved, fmt = save_model(obj, model.saver_fn)
        return FitResult(
            model=saved,
            format=fmt,
            metrics=metrics,
            hyperparameters=hyperparameters,
            dataset_hash=content_hash(data),
            features=[str(c) for c in X.columns],
            feature_stats=json.dumps(feature_stats(X)),
            execution_id=current_context().execution_id,
        )

    fit.__annotations__ = {"data": pd.DataFrame, "hyperparameters": str, "return": FitResult}
    _place(fit, model, "fit")
    return task(name=f"ml.{model.name}.fit", cache=True, cache_version=version)(fit)


def _workflow(
    model: Model, name: str, body: Any, extra: list[inspect.Parameter], returns: Any
) -> Any:
    params = [*model.dataset.reader_parameters(), *extra]
    body.__signature__ = inspect.Signature(params, return_annotation=returns)
    body.__annotations__ = {**{p.name: p.annotation for p in params}, "return": returns}
    found = model.address()
    if found is not None:
        body.__module__ = found[0]
    return workflow(name=f"ml.{model.name}.{name}")(body)


def _hp_param(annotation: Any) -> inspect.Parameter:
    return inspect.Parameter(
        "hyperparameters", inspect.Parameter.KEYWORD_ONLY, annotation=annotation
    )


def _split_metrics(metrics: dict[str, float]) -> tuple[dict[str, float], dict[str, str]]:
    """The metrics a version can hold (``store.artifacts.is_metric``: finite numbers), and
    the others as text (``nan``, ``inf``, ``-inf``): the store refuses them, and a training
    whose evaluator gave one (a diverged loss, a score of a test split with one class) still
    registers the model it trained."""
    finite = {k: v for k, v in metrics.items() if is_metric(v)}
    return finite, {k: str(v) for k, v in metrics.items() if k not in finite}


def _register(model: Model, registry: Registrar, result: FitResult) -> Any:
    metrics, odd = _split_metrics(result.metrics)
    if odd:
        named = ", ".join(f"{k}={v}" for k, v in sorted(odd.items()))
        warnings.warn(
            f"model {model.name!r}: the evaluator's {named} is not a finite number: the "
            "version is registered without it (in its metadata as metric.<name>)",
            RuntimeWarning,
            stacklevel=3,
        )
    return registry.register(
        model.name,
        result.model,
        fmt=result.format,
        execution_id=result.execution_id,
        lineage={
            "execution_id": result.execution_id,
            "dataset": model.dataset.name,
            "dataset_hash": result.dataset_hash,
            "code_version": model.code_version(),
            "hyperparameters": result.hyperparameters,
        },
        metrics=metrics,
        metadata={
            "features": json.dumps(result.features),
            "feature_stats": result.feature_stats,
            "model_file": model.source_file,
            **{f"metric.{k}": v for k, v in odd.items()},
        },
    )


def _trained(
    model: Model,
    result: FitResult,
    registry: Registrar | None,
    register: bool,
    trials: list[tuple[dict[str, Any], dict[str, float]]] | None = None,
) -> TrainedModel:
    artifact = None
    if register:
        artifact = _register(model, registry or local_registry(), result)
    hyperparameters = json.loads(result.hyperparameters)
    obj = load_model(
        result.model,
        result.format,
        loader=model.loader_fn,
        build=lambda: model.build(hyperparameters),
    )
    return TrainedModel(
        obj, artifact, result.metrics, hyperparameters, result.execution_id, trials or []
    )


def _registrar(registry: Registrar | None, remote: ServerClient | None) -> Registrar | None:
    """Where a trained model is registered: the registry given, else the server's when it
    trained there (else the local one, chosen later)."""
    if registry is None and remote is not None:
        return ServerRegistry(remote)
    return registry


@dataclass(frozen=True)
class RemoteWait:
    """How long to wait for training on a server, or which execution to wait for again."""

    timeout: float | None = None
    attach: str | None = None


def _run(
    model: Model,
    wf: Any,
    inputs: dict[str, Any],
    remote: ServerClient | None,
    wait: RemoteWait | None = None,
) -> Any:
    wait = wait or RemoteWait()
    if remote is None:
        if wait != RemoteWait():
            raise ConfigError(
                "timeout and attach are for training on a server: pass remote=Client(...) "
                "too (a local training runs in this process until it ends)"
            )
        return wf(**inputs)
    return run_on_server(model, remote, wf, inputs, timeout=wait.timeout, attach=wait.attach)


def _reader_args(model: Model, given: dict[str, Any]) -> dict[str, Any]:
    names = [p.name for p in model.dataset.reader_parameters()]
    unknown = sorted(set(given) - set(names))
    if unknown:
        raise ConfigError(
            f"model {model.name!r}: the reader takes no argument {unknown[0]!r} (it takes {names})"
        )
    return given


def run_training(
    model: Model,
    hyperparameters: dict[str, Any],
    reader_args: dict[str, Any],
    register: bool,
    registry: Registrar | None,
    remote: ServerClient | None = None,
    wait: RemoteWait | None = None,
) -> TrainedModel:
    """Train once as a workflow (locally, or on the server ``remote`` talks to); register
    the result if asked."""
    read, fit = model.ml_tasks.read, model.ml_tasks.fit
    names = [p.name for p in model.dataset.reader_parameters()]

    def train(**kwargs: Any) -> FitResult:
        data = read(**{n: kwargs[n] for n in names})
        return fit(data=data, hyperparameters=kwargs["hyperparameters"])  # type: ignore[no-any-return]

    wf = _workflow(model, "train", train, [_hp_param(str)], FitResult)
    args = _reader_args(model, reader_args)
    inputs = {**args, "hyperparameters": json.dumps(hyperparameters, sort_keys=True)}
    result: FitResult = _run(model, wf, inputs, remote, wait)
    return _trained(model, result, _registrar(registry, remote), register)


def sample_space(space: dict[str, list[Any]], trials: int, seed: int) -> list[dict[str, Any]]:
    """``trials`` distinct hyperparameter sets from the grid ``space`` (all of it if smaller),
    drawn with ``seed``.

    Raises:
        ConfigError: an empty space or a dimension without values, or ``trials`` < 1.
    """
    if trials < 1:
        raise ConfigError(f"tune needs at least one trial, got trials={trials}")
    if not space or any(not isinstance(v, list) or not v for v in space.values()):
        raise ConfigError("the search space maps each hyperparameter to a non-empty list of values")
    keys = sorted(space)
    total = 1
    for k in keys:
        total *= len(space[k])
    rng = random.Random(seed)
    picks = rng.sample(range(total), min(trials, total))
    out = []
    for pick in picks:
        chosen: dict[str, Any] = {}
        for k in keys:
            pick, i = divmod(pick, len(space[k]))
            chosen[k] = space[k][i]
        out.append(chosen)
    return out


def _rank(sign: float, value: float) -> float:
    return sign * value if is_metric(value) else -math.inf


def run_tuning(
    model: Model,
    space: dict[str, list[Any]],
    trials: int,
    metric: str,
    mode: str,
    fan_out: tuple[int | None, float],
    seed: int,
    reader_args: dict[str, Any],
    register: bool,
    registry: Registrar | None,
    remote: ServerClient | None = None,
    wait: RemoteWait | None = None,
) -> TrainedModel:
    """Fan ``trials`` fits out as a map in one workflow (locally, or on the server
    ``remote`` talks to; ``fan_out``: the map's concurrency and min_success_ratio); keep the
    best by ``metric``."""
    if mode not in ("max", "min"):
        raise ConfigError(f"mode must be 'max' or 'min', got {mode!r}")
    concurrency, ratio = fan_out
    sets = [model.check_hyperparameters(s) for s in sample_space(space, trials, seed)]
    read, fit = model.ml_tasks.read, model.ml_tasks.fit
    names = [p.name for p in model.dataset.reader_parameters()]

    def tune(**kwargs: Any) -> list[FitResult]:
        data = read(**{n: kwargs[n] for n in names})
        fits = functools.partial(fit, data=data)
        mapped = map_task(fits, concurrency=concurrency, min_success_ratio=ratio)
        return mapped(hyperparameters=kwargs["hyperparameters"])  # type: ignore[no-any-return]

    # With a ratio below 1 a failed trial's output is None (the map's type says so).
    returns: Any = list[FitResult] if ratio >= 1.0 else list[FitResult | None]
    wf = _workflow(model, "tune", tune, [_hp_param(list[str])], returns)
    args = _reader_args(model, reader_args)
    inputs = {**args, "hyperparameters": [json.dumps(s, sort_keys=True) for s in sets]}
    results: list[FitResult] = [r for r in _run(model, wf, inputs, remote, wait) if r is not None]
    missing = [r for r in results if metric not in r.metrics]
    if missing:
        raise ConfigError(
            f"tune metric {metric!r} is not reported by the evaluator (it reports "
            f"{sorted(missing[0].metrics)})"
        )
    sign = 1.0 if mode == "max" else -1.0
    # a trial whose metric is not a finite number ranks last (NaN compares false both ways:
    # max() kept a NaN trial that came first)
    best = max(results, key=lambda r: _rank(sign, r.metrics[metric]))
    history = [(json.loads(r.hyperparameters), r.metrics) for r in results]
    return _trained(model, best, _registrar(registry, remote), register, history)


def _predict_task(model: Model, version: str) -> Any:
    import pandas as pd

    def predict(
        data: pd.DataFrame, model_bytes: bytes, model_format: str, hyperparameters: str
    ) -> Any:
        obj = load_model(
            model_bytes,
            model_format,
            loader=model.loader_fn,
            build=lambda: model.build(json.loads(hyperparameters)),
        )
        return model.predict_with(obj, data[model.dataset.feature_names(data)])

    predict.__annotations__ = {
        "data": pd.DataFrame,
        "model_bytes": bytes,
        "model_format": str,
        "hyperparameters": str,
        "return": model.predictor_return_type(),
    }
    _place(predict, model, "predict")
    return task(name=f"ml.{model.name}.predict", cache=True, cache_version=version)(predict)


def run_batch_prediction(
    model: Model, ref: str, registry: ModelRegistry | None, reader_args: dict[str, Any]
) -> Any:
    """Predict over the dataset's features as a workflow: ``(read, predict)``."""
    registry = registry or local_registry()
    artifact = registry.resolve(ref)
    read, predict_task = model.ml_tasks.read, model.ml_tasks.predict
    names = [p.name for p in model.dataset.reader_parameters()]

    def batch(**kwargs: Any) -> Any:
        data = read(**{n: kwargs[n] for n in names})
        return predict_task(
            data=data,
            model_bytes=kwargs["model_bytes"],
            model_format=kwargs["model_format"],
            hyperparameters=kwargs["hp"],
        )

    extra = [
        inspect.Parameter(n, inspect.Parameter.KEYWORD_ONLY, annotation=t)
        for n, t in (("model_bytes", bytes), ("model_format", str), ("hp", str))
    ]
    wf = _workflow(model, "batch_predict", batch, extra, model.predictor_return_type())
    return wf(
        **_reader_args(model, reader_args),
        model_bytes=registry.read_bytes(artifact),
        model_format=artifact.metadata.get("format", "pickle"),
        hp=artifact.lineage.get("hyperparameters", "{}"),
    )
