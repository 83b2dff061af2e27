"""``Dataset``: a typed reader whose arguments become workflow inputs, and the loader,
splitter and parser that turn what it reads into training and test features and targets.

Defaults (pandas): the loader makes a ``DataFrame`` of what the reader returned, the splitter
holds out ``test_size`` of the rows (shuffled with ``random_state``), the parser takes the
``features`` columns (every column but the targets if not given) and the ``targets``.

Invariant: a dataset's content hash is the SHA-256 of pandas' row hashes of the loaded frame
and its column names, so the same data read twice hashes the same (lineage, caching).
"""

from __future__ import annotations

import hashlib
import inspect
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from airfoil.core.errors import ConfigError, DefinitionError

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["RESERVED", "Dataset", "FeatureStats", "content_hash", "feature_stats"]

#: Names a reader's arguments cannot have: the arguments of ``Model.train``, ``tune`` and
#: ``batch_predict`` and the inputs their workflows add.
RESERVED = frozenset(
    {
        "hyperparameters",
        "register",
        "registry",
        "ref",
        "space",
        "trials",
        "metric",
        "mode",
        "concurrency",
        "min_success_ratio",
        "search_seed",
        "model_bytes",
        "model_format",
        "hp",
        "remote",
        "timeout",
        "attach",
    }
)

#: Per feature: ``(mean, std, missing rate)`` of the training data.
FeatureStats = dict[str, tuple[float, float, float]]


def content_hash(frame: pd.DataFrame) -> str:
    """The SHA-256 of a frame's content (column names, dtypes and every row)."""
    import pandas as pd

    digest = hashlib.sha256()
    digest.update(repr([(str(c), str(t)) for c, t in frame.dtypes.items()]).encode())
    digest.update(pd.util.hash_pandas_object(frame, index=False).to_numpy().tobytes())
    return digest.hexdigest()


def feature_stats(features: pd.DataFrame) -> FeatureStats:
    """Each numeric feature's mean, standard deviation and missing rate (drift baseline)."""
    out: FeatureStats = {}
    rows = max(len(features), 1)
    for column in features.columns:
        series = features[column]
        if series.dtype.kind not in "biuf":
            continue
        missing = float(series.isna().sum()) / rows
        mean = float(series.mean()) if rows else 0.0
        std = float(series.std(ddof=0)) if rows else 0.0
        out[str(column)] = (_finite(mean), _finite(std), missing)
    return out


def _finite(x: float) -> float:
    return x if x == x and abs(x) != float("inf") else 0.0


class Dataset:
    """Where a model's data comes from and how it is split and parsed.

    Args:
        name: the dataset's name (used in task names).
        targets: the target columns.
        features: the feature columns (default: every column but the targets).
        test_size: the share of rows held out for evaluation (0 to 1, exclusive).
        shuffle: shuffle rows before splitting.
        random_state: the shuffle's seed.
        cache_reads: reuse a read's result for the same reader arguments and code. Off by
            default: a reader usually reads a source outside its arguments (a file, a table)
            that may have changed, so every training reads again, and the fit is cached by
            the data's content instead. Turn it on for a reader whose result its arguments
            fix (a dated snapshot) and that is slow.

    Raises:
        ConfigError: a bad ``test_size`` or no targets.
    """

    def __init__(
        self,
        name: str,
        *,
        targets: list[str],
        features: list[str] | None = None,
        test_size: float = 0.2,
        shuffle: bool = True,
        random_state: int = 12345,
        cache_reads: bool = False,
    ) -> None:
        if not targets:
            raise ConfigError(f"dataset {name!r}: name at least one target column")
        if not 0.0 < test_size < 1.0:
            raise ConfigError(
                f"dataset {name!r}: test_size must be between 0 and 1, got {test_size}"
            )
        self.name = name
        self.targets = list(targets)
        self.features = list(features) if features is not None else None
        self.test_size = test_size
        self.shuffle = shuffle
        self.random_state = random_state
        self.cache_reads = cache_reads
        self._reader: Callable[..., Any] | None = None
        self._loader: Callable[[Any], pd.DataFrame] | None = None
        self._splitter: Callable[..., tuple[pd.DataFrame, pd.DataFrame]] | None = None
        self._parser: Callable[..., tuple[pd.DataFrame, Any]] | None = None

    # --- decorators --------------------------------------------------------------------

    def reader(self, fn: Callable[..., Any]) -> Callable[..., Any]:
        """Register the reader: its annotated keyword arguments become the training
        workflow's inputs; it returns the raw data (a DataFrame, or what the loader takes).

        Raises:
            DefinitionError: a parameter without a type annotation, or ``*args``.
        """
        for param in inspect.signature(fn).parameters.values():
            if param.kind in (param.VAR_POSITIONAL, param.VAR_KEYWORD):
                raise DefinitionError(
                    f"dataset {self.name!r}: the reader cannot take *{param.name}: name each "
                    "argument (they become workflow inputs)"
                )
            if param.name in RESERVED:
                raise DefinitionError(
                    f"dataset {self.name!r}: the reader's argument {param.name!r} clashes with "
                    f"an argument of Model.train/tune/batch_predict: rename it (reserved: "
                    f"{', '.join(sorted(RESERVED))})"
                )
            if param.annotation is inspect.Parameter.empty:
                raise DefinitionError(
                    f"dataset {self.name!r}: reader argument {param.name!r} needs a type "
                    "annotation (it becomes a typed workflow input)"
                )
        self._reader = fn
        return fn

    def loader(self, fn: Callable[[Any], pd.DataFrame]) -> Callable[[Any], pd.DataFrame]:
        """Register the loader: raw data -> DataFrame."""
        self._loader = fn
        return fn

    def splitter(
        self, fn: Callable[..., tuple[pd.DataFrame, pd.DataFrame]]
    ) -> Callable[..., tuple[pd.DataFrame, pd.DataFrame]]:
        """Register the splitter: ``(data, test_size, shuffle, random_state) -> (train, test)``."""
        self._splitter = fn
        return fn

    def parser(
        self, fn: Callable[..., tuple[pd.DataFrame, Any]]
    ) -> Callable[..., tuple[pd.DataFrame, Any]]:
        """Register the parser: ``(data, features, targets) -> (X, y)``."""
        self._parser = fn
        return fn

    # --- use ---------------------------------------------------------------------------

    @property
    def reader_fn(self) -> Callable[..., Any]:
        """The registered reader.

        Raises:
            DefinitionError: none is registered.
        """
        if self._reader is None:
            raise DefinitionError(
                f"dataset {self.name!r} has no reader: decorate a function with @dataset.reader"
            )
        return self._reader

    def reader_parameters(self) -> list[inspect.Parameter]:
        """The reader's parameters, as keyword-only workflow inputs."""
        return [
            p.replace(kind=inspect.Parameter.KEYWORD_ONLY)
            for p in inspect.signature(self.reader_fn).parameters.values()
        ]

    def user_functions(self) -> list[Callable[..., Any]]:
        """The functions the user registered (their code versions the training's)."""
        found = [self._reader, self._loader, self._splitter, self._parser]
        return [f for f in found if f is not None]

    def read(self, **reader_args: Any) -> pd.DataFrame:
        """Read and load the data."""
        return self.load(self.reader_fn(**reader_args))

    def load(self, raw: Any) -> pd.DataFrame:
        """The loader's frame of ``raw``."""
        import pandas as pd

        if self._loader is not None:
            return self._loader(raw)
        return raw if isinstance(raw, pd.DataFrame) else pd.DataFrame(raw)

    def split(self, data: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
        """``(train, test)`` rows."""
        if self._splitter is not None:
            return self._splitter(data, self.test_size, self.shuffle, self.random_state)
        rows = data.sample(frac=1.0, random_state=self.random_state) if self.shuffle else data
        cut = len(rows) - max(1, round(len(rows) * self.test_size))
        if cut < 1:
            raise ConfigError(
                f"dataset {self.name!r}: {len(rows)} rows are too few to split "
                f"(test_size {self.test_size})"
            )
        return rows.iloc[:cut], rows.iloc[cut:]

    def feature_names(self, data: pd.DataFrame) -> list[str]:
        """The feature columns of ``data``."""
        if self.features is not None:
            return list(self.features)
        return [str(c) for c in data.columns if c not in self.targets]

    def parse(self, data: pd.DataFrame) -> tuple[pd.DataFrame, Any]:
        """``(X, y)``: features and targets (one target: a Series).

        Raises:
            ConfigError: a feature or target column is missing.
        """
        features = self.feature_names(data)
        if self._parser is not None:
            return self._parser(data, features, self.targets)
        missing = [c for c in [*features, *self.targets] if c not in data.columns]
        if missing:
            raise ConfigError(
                f"dataset {self.name!r}: the data has no column {missing[0]!r} "
                f"(it has {[str(c) for c in data.columns][:10]})"
            )
        y = data[self.targets[0]] if len(self.targets) == 1 else data[self.targets]
        return data[features], y
