"""``Model``: typed hyperparameters, trainer/predictor/evaluator and saver/loader around an
``init`` (a class or factory), trained, tuned and run for predictions as Airfoil workflows.

A model's *code version* hashes every function the user gave it (reader, loader, splitter,
parser, init, trainer, predictor, evaluator, saver, loader) the way ``@task`` versions code
(helpers, constants, other modules of the project): it is the training tasks' cache version
and the ``code_version`` of every model it registers, so editing the trainer retrains.
"""

from __future__ import annotations

import functools
import hashlib
import inspect
import json
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, BinaryIO

from airfoil.core.errors import ConfigError, DefinitionError, UserError
from airfoil.ml._dataset import Dataset

if TYPE_CHECKING:
    import pandas as pd

    from airfoil.ml._registry import ModelRegistry, TrainedModel
    from airfoil.ml._remote import ServerClient
    from airfoil.ml._training import ModelTasks

__all__ = ["MisalignedPredictions", "Model"]


class MisalignedPredictions(UserError, ValueError):
    """The predictor answered a number of predictions other than the number of rows."""


def check_aligned(out: Any, rows: int) -> Any:
    """``out`` if it holds one prediction per row (a list, tuple, array, Series or tensor of
    ``rows``); other answers (a dict, a scalar) are the predictor's own to shape.

    Raises:
        MisalignedPredictions: fewer or more predictions than rows: a caller pairs them by
            position, so every one after a dropped row was another row's.
    """
    if isinstance(out, list | tuple):
        got: int | None = len(out)
    else:
        shape = getattr(out, "shape", None)
        got = shape[0] if isinstance(shape, tuple) and shape and isinstance(shape[0], int) else None
    if got is not None and got != rows:
        raise MisalignedPredictions(
            f"the predictor returned {got} predictions for {rows} rows: it must answer one "
            "per row, in the rows' order (does it drop rows, e.g. with dropna?)"
        )
    return out


class Model:
    """A trainable model and how to use it.

    Args:
        name: the model's name: its registered artifact name (``name:version``).
        init: a class or function that builds an untrained model from hyperparameters.
        dataset: where its data comes from.
        hyperparameters: a dataclass or pydantic model type the hyperparameters are checked
            against (default: the parameters of ``init``'s signature).

    Raises:
        ConfigError: an invalid name.
    """

    def __init__(
        self,
        name: str,
        *,
        init: Callable[..., Any],
        dataset: Dataset,
        hyperparameters: type | None = None,
    ) -> None:
        from airfoil.store.artifacts import check_artifact_name

        self.name = check_artifact_name(name, "model name")
        self.init = init
        self.dataset = dataset
        self.hyperparameter_type = hyperparameters
        self._trainer: Callable[..., Any] | None = None
        self._predictor: Callable[..., Any] | None = None
        self._evaluator: Callable[..., Any] | None = None
        self._saver: Callable[[Any, BinaryIO], None] | None = None
        self._loader: Callable[[BinaryIO], Any] | None = None
        self.source_file, self.module_name = _caller()

    # --- decorators --------------------------------------------------------------------

    def trainer(self, fn: Callable[..., Any]) -> Callable[..., Any]:
        """Register the trainer: ``(model, X, y) -> trained model``."""
        self._trainer = fn
        return fn

    def predictor(self, fn: Callable[..., Any]) -> Callable[..., Any]:
        """Register the predictor: ``(model, features: pd.DataFrame) -> predictions``; its
        return annotation types the prediction service's response."""
        self._predictor = fn
        return fn

    def evaluator(self, fn: Callable[..., Any]) -> Callable[..., Any]:
        """Register the evaluator: ``(model, X, y) -> float`` (the metric ``score``) or
        ``dict[str, float]``."""
        self._evaluator = fn
        return fn

    def saver(self, fn: Callable[[Any, BinaryIO], None]) -> Callable[[Any, BinaryIO], None]:
        """Register a saver: ``(model, file)`` writes the trained model."""
        self._saver = fn
        return fn

    def loader(self, fn: Callable[[BinaryIO], Any]) -> Callable[[BinaryIO], Any]:
        """Register a loader: ``(file) -> model`` reads what the saver wrote."""
        self._loader = fn
        return fn

    # --- pieces ------------------------------------------------------------------------

    def _need(self, fn: Callable[..., Any] | None, what: str) -> Callable[..., Any]:
        if fn is None:
            raise DefinitionError(
                f"model {self.name!r} has no {what}: decorate a function with @model.{what}"
            )
        return fn

    @property
    def saver_fn(self) -> Callable[[Any, BinaryIO], None] | None:
        return self._saver

    @property
    def loader_fn(self) -> Callable[[BinaryIO], Any] | None:
        return self._loader

    def check_hyperparameters(self, hyperparameters: dict[str, Any] | None) -> dict[str, Any]:
        """The hyperparameters, checked against the declared type or ``init``'s signature.

        Raises:
            ConfigError: an unknown name, a value of the wrong type, or not JSON data.
        """
        given = dict(hyperparameters or {})
        if self.hyperparameter_type is not None:
            try:
                self.hyperparameter_type(**given)
            except (TypeError, ValueError) as exc:
                raise ConfigError(f"model {self.name!r}: bad hyperparameters: {exc}") from exc
        else:
            try:
                params = inspect.signature(self.init).parameters
            except (TypeError, ValueError):  # a builtin without a signature: accept as given
                params = {}  # type: ignore[assignment]
            takes_any = any(p.kind is p.VAR_KEYWORD for p in params.values())
            for key, value in given.items():
                param = params.get(key)
                if param is None and params and not takes_any:
                    raise ConfigError(
                        f"model {self.name!r}: unknown hyperparameter {key!r}; "
                        f"{getattr(self.init, '__name__', 'init')} takes {sorted(params)}"
                    )
                annotation = param.annotation if param is not None else inspect.Parameter.empty
                if annotation in (int, float, str, bool) and not _fits(value, annotation):
                    raise ConfigError(
                        f"model {self.name!r}: hyperparameter {key!r} must be "
                        f"{annotation.__name__}, got {value!r}"
                    )
        try:
            json.dumps(given, sort_keys=True)
        except TypeError as exc:
            raise ConfigError(
                f"model {self.name!r}: hyperparameters must be JSON data: {exc}"
            ) from exc
        return given

    def build(self, hyperparameters: dict[str, Any]) -> Any:
        """An untrained model object."""
        if self.hyperparameter_type is not None:
            return self.init(self.hyperparameter_type(**hyperparameters))
        return self.init(**hyperparameters)

    def fit(self, hyperparameters: dict[str, Any], X: Any, y: Any) -> Any:
        """Build and train a model object."""
        return self._need(self._trainer, "trainer")(self.build(hyperparameters), X, y)

    def evaluate(self, obj: Any, X: Any, y: Any) -> dict[str, float]:
        """The evaluator's metrics (``{"score": x}`` for a single number)."""
        if self._evaluator is None:
            return {}
        result = self._evaluator(obj, X, y)
        if isinstance(result, dict):
            return {str(k): float(v) for k, v in result.items()}
        return {"score": float(result)}

    def predict_with(self, obj: Any, features: Any) -> Any:
        """The predictor's output for a frame of features (given as a numpy array when the
        predictor's ``features`` parameter is annotated ``np.ndarray``).

        Raises:
            MisalignedPredictions: it answered a number of predictions other than of rows
                (``predict``, ``batch_predict`` and ``/predict`` all go through here).
        """
        fn = self._need(self._predictor, "predictor")
        if self.wants_array() and not _is_array(features):
            features = features.to_numpy(dtype=float)
        return check_aligned(fn(obj, features), len(features))

    def wants_array(self) -> bool:
        """Whether the predictor takes its features as a numpy array (``np.ndarray``): the
        service then skips building a DataFrame per request."""
        cached: bool | None = self.__dict__.get("_wants_array")
        if cached is None:
            fn = self._need(self._predictor, "predictor")
            params = list(inspect.signature(fn).parameters)
            hint = _annotations(fn).get(params[1]) if len(params) > 1 else None
            if isinstance(hint, str):  # not resolvable here: judge by its spelling
                cached = hint.split("[", 1)[0].rsplit(".", 1)[-1] in ("ndarray", "NDArray")
            else:
                cached = getattr(hint, "__module__", "") == "numpy" and (
                    getattr(hint, "__name__", "") == "ndarray"
                    or getattr(getattr(hint, "__origin__", None), "__name__", "") == "ndarray"
                )
            self.__dict__["_wants_array"] = cached
        return cached

    def predictor_return_type(self) -> Any:
        """The predictor's return annotation (``list[Any]`` if it has none)."""
        fn = self._need(self._predictor, "predictor")
        found = _annotations(fn).get("return", list[Any])
        return list[Any] if isinstance(found, str) else found

    def user_functions(self) -> list[Callable[..., Any]]:
        fns = [self._trainer, self._predictor, self._evaluator, self._saver, self._loader]
        own = [f for f in fns if f is not None]
        if inspect.isfunction(self.init):
            own.append(self.init)
        return [*self.dataset.user_functions(), *own]

    def code_version(self) -> str:
        """The hash of every function the user gave the model and its dataset."""
        # imported here: a model service (which never versions code) starts without it
        from airfoil.sdk._versioning import compute_version

        digest = hashlib.sha256(f"airfoil.ml/1\0{self.name}\0".encode())
        for fn in self.user_functions():
            digest.update(compute_version(fn, warn=False).version.encode())
        if not inspect.isfunction(self.init):
            init = self.init
            digest.update(
                f"{getattr(init, '__module__', '')}.{getattr(init, '__qualname__', '')}".encode()
            )
        return digest.hexdigest()[:32]

    def address(self) -> tuple[str, str] | None:
        """``(module, variable)`` where this model is a module-level variable of the module
        that made it (None if it is not): a worker process finds the model's tasks there, as
        ``<variable>.ml_tasks.<kind>`` (see :class:`~airfoil.ml._training.ModelTasks`)."""
        module = sys.modules.get(self.module_name)
        if module is None:
            return None
        for attr, value in vars(module).items():
            if value is self and not attr.startswith("__"):
                return self.module_name, attr
        return None

    @functools.cached_property
    def ml_tasks(self) -> ModelTasks:
        """The tasks of this model's workflows (read, fit, predict), built on first use."""
        from airfoil.ml._training import ModelTasks

        return ModelTasks(self)

    # --- running -----------------------------------------------------------------------

    def train(
        self,
        hyperparameters: dict[str, Any] | None = None,
        *,
        register: bool = True,
        registry: ModelRegistry | None = None,
        remote: ServerClient | None = None,
        timeout: float | None = None,
        attach: str | None = None,
        **reader_args: Any,
    ) -> TrainedModel:
        """Train as an Airfoil workflow (cached, durable, recorded) and register the result.

        Args:
            hyperparameters: passed to ``init`` (checked first).
            register: register the trained model as ``name:version``.
            registry: where to register (default: the local one of the environment's
                settings; with ``remote``, the server's).
            remote: an :class:`airfoil.client.Client`: the workflow is registered with the
                source folder of the model's file and runs on that server (its workers,
                store and console), and the model is registered in the server's registry
                with the server's execution in its lineage.
            timeout: with ``remote``, the most seconds to wait for the server's execution
                (None: until it ends).
            attach: with ``remote``, the id of an execution of this training that a
                ``timeout`` left running: wait for it (and register its result) instead of
                launching another.
            **reader_args: the dataset reader's arguments (the workflow's inputs).

        Raises:
            ConfigError: bad hyperparameters; with ``remote``, a model that is not a
                module-level variable of its file (the server's workers could not find it);
                ``timeout`` or ``attach`` without ``remote``; ``attach`` naming an execution
                of another workflow.
            RemoteTrainingTimeoutError: the server's execution did not end within
                ``timeout`` (it keeps running; the error names it for ``attach``).
            ExecutionFailedError: the training failed (the user's error inside).
        """
        from airfoil.ml._training import RemoteWait, run_training

        return run_training(
            self,
            self.check_hyperparameters(hyperparameters),
            reader_args,
            register,
            registry,
            remote,
            RemoteWait(timeout, attach),
        )

    def tune(
        self,
        space: dict[str, list[Any]],
        *,
        trials: int,
        metric: str = "score",
        mode: str = "max",
        concurrency: int | None = None,
        min_success_ratio: float = 1.0,
        search_seed: int = 0,
        register: bool = True,
        registry: ModelRegistry | None = None,
        remote: ServerClient | None = None,
        timeout: float | None = None,
        attach: str | None = None,
        **reader_args: Any,
    ) -> TrainedModel:
        """Train ``trials`` hyperparameter sets drawn from ``space`` (with ``search_seed``) as a
        map in one workflow and keep (register) the best by ``metric``; with ``remote`` (a
        :class:`airfoil.client.Client`) on that server, as :meth:`train` does (with its
        ``timeout`` and ``attach``). With ``min_success_ratio`` below 1 a trial whose fit
        fails (a combination the estimator refuses) is left out, as long as that share of
        the trials succeeds; the result's ``trials`` are the ones that succeeded.

        Raises:
            ConfigError: an empty space, ``trials`` < 1, a bad ``mode``, or a metric the
                evaluator does not report.
            ExecutionFailedError: a trial failed (more than ``min_success_ratio`` lets).
            RemoteTrainingTimeoutError: with ``remote`` and ``timeout``, as :meth:`train`.
        """
        from airfoil.ml._training import RemoteWait, run_tuning

        return run_tuning(
            self,
            space,
            trials,
            metric,
            mode,
            (concurrency, min_success_ratio),
            search_seed,
            reader_args,
            register,
            registry,
            remote,
            RemoteWait(timeout, attach),
        )

    def predict(
        self,
        features: pd.DataFrame | list[dict[str, Any]],
        *,
        ref: str | None = None,
        registry: ModelRegistry | None = None,
    ) -> Any:
        """Predictions in Python from a registered model (``ref``: ``name``, ``name:3`` or
        ``name@production``; default: this model's newest version).

        The predictor gets the version's training features in their training order, as
        ``/predict`` gives them (other columns are left out).

        Raises:
            ConfigError: no rows, or rows without some of the training features (named).
        """
        import pandas as pd

        from airfoil.ml._registry import local_registry

        found = (registry or local_registry()).load(self, ref or self.name)
        frame = features if isinstance(features, pd.DataFrame) else pd.DataFrame(features)
        names = found.features()
        if names:  # as the service reads a request: the training features, in their order
            art = found.artifact
            if len(frame) == 0:
                raise ConfigError(
                    f"{art.name}:{art.version}: no rows to predict: give at least one row of "
                    f"the features {', '.join(names)}"
                )
            frame = _training_columns(frame, names, f"{art.name}:{art.version}")
        return self.predict_with(found.obj, frame)

    def batch_predict(
        self, *, ref: str | None = None, registry: ModelRegistry | None = None, **reader_args: Any
    ) -> Any:
        """Predict over the dataset's features read with ``reader_args``, as a workflow."""
        from airfoil.ml._training import run_batch_prediction

        return run_batch_prediction(self, ref or self.name, registry, reader_args)


def _training_columns(frame: pd.DataFrame, names: list[str], ref: str) -> pd.DataFrame:
    """``frame``'s columns ``names`` in that order, found by their text: the features are
    recorded as text, so a column named ``0`` (a frame built from a numpy array, whose
    integer names the training frame's storage turned into ``"0"``) is feature ``"0"``.

    Raises:
        ConfigError: a feature missing, or two columns (``0`` and ``"0"``) read as one.
    """
    by_name: dict[str, list[Any]] = {}
    for column in frame.columns:
        by_name.setdefault(str(column), []).append(column)
    missing = [n for n in names if n not in by_name]
    if missing:
        raise ConfigError(
            f"{ref} was trained on the features {', '.join(names)}; the rows given lack "
            f"{', '.join(missing)}"
        )
    twice = [n for n in names if len(by_name[n]) > 1]
    if twice:
        raise ConfigError(
            f"{ref}: the rows given have several columns named {', '.join(twice)} "
            f"({', '.join(repr(c) for n in twice for c in by_name[n])}): keep one of each"
        )
    picked = frame[[by_name[n][0] for n in names]]
    if list(picked.columns) != names:
        picked = picked.set_axis(names, axis=1)  # the names the predictor was trained with
    return picked


def _annotations(fn: Callable[..., Any]) -> dict[str, Any]:
    """``fn``'s annotations, evaluated where they can be (else left as strings)."""
    try:
        return inspect.get_annotations(fn, eval_str=True)
    except Exception:
        return inspect.get_annotations(fn)


def _is_array(x: Any) -> bool:
    return type(x).__module__ == "numpy" and type(x).__name__ == "ndarray"


def _fits(value: Any, annotation: type) -> bool:
    if annotation is float:
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if annotation is int:
        return isinstance(value, int) and not isinstance(value, bool)
    return isinstance(value, annotation)


def _caller() -> tuple[str, str]:
    """The file and module name of the code that made the model."""
    frame = inspect.currentframe()
    try:
        outer = frame.f_back.f_back if frame and frame.f_back else None
        if outer is None:
            return "", ""
        return outer.f_code.co_filename, str(outer.f_globals.get("__name__", ""))
    finally:
        del frame
