"""``af.sql_task``: an SQL query templated with typed inputs, run on SQLite or DuckDB, returning
a dataframe.

The task type ``sql``: the worker's runner reads the query, the engine and the database from
the spec's config (:class:`SQLConfig`, part of the task's version). ``{inputs.NAME}`` is
replaced by the input's value as an SQL literal (``'it''s'``, ``42``, ``NULL``) -- or as it is,
with ``literals=False`` -- and a dataframe input (pandas, polars, pyarrow) is a table of that
name, so ``{inputs.frame}`` (or the bare name) can be queried. ``database`` is a local SQLite
file (or a zip of one) / DuckDB file, opened read-only; its tables are queried by name beside
the input frames. The result is a pandas DataFrame (or the declared pyarrow / polars frame).
DuckDB is used when it is installed; without it such a task is refused when it is defined, with
the ``pip install duckdb`` that fixes it.
"""

from __future__ import annotations

import datetime as dt
import enum
import importlib.util
import math
import os
import pathlib
import zipfile
from collections.abc import Mapping
from typing import Any, Literal

import msgspec

from airfoil.core.errors import AirfoilError, ConfigError, DefinitionError, UserError
from airfoil.sdk._command_tasks import (
    PLACEHOLDER,
    caller_module,
    check_name,
    check_placeholders,
    declare,
    work_directory,
)
from airfoil.sdk._entity import type_engine
from airfoil.sdk._task import TaskDef

__all__ = ["SQL_TYPE", "SQLConfig", "run_sql", "sql_literal", "sql_task"]

#: The task type name of SQL tasks.
SQL_TYPE = "sql"

Engine = Literal["sqlite", "duckdb"]
_DUCKDB_MISSING = "DuckDB is not installed here: `pip install duckdb` (or use engine='sqlite')"


class SQLConfig(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """An SQL task's settings (``TaskSpec.config``).

    Attributes:
        query: the query, with ``{inputs.NAME}`` placeholders.
        engine: ``sqlite`` or ``duckdb``.
        database: a local database file ("" : none, only the input frames).
        compressed: ``database`` is a zip archive holding one database file.
        literals: place scalar inputs as SQL literals (else as their text).
        tables: the inputs that are dataframes (tables of the query).
        output: ``pandas``, ``pyarrow`` or ``polars``.
    """

    query: str
    engine: Engine = "sqlite"
    database: str = ""
    compressed: bool = False
    literals: bool = True
    tables: tuple[str, ...] = ()
    output: str = "pandas"

    @staticmethod
    def decode(data: Mapping[str, Any]) -> SQLConfig:
        """The config of a spec.

        Raises:
            ConfigError: the data is not an SQL task's config.
        """
        try:
            return msgspec.convert(dict(data), SQLConfig)
        except msgspec.ValidationError as exc:
            raise ConfigError(f"invalid SQL task config: {exc}") from None


def sql_literal(value: Any, where: str) -> str:
    """``value`` as an SQL literal both SQLite and DuckDB read.

    Raises:
        UserError: a value with no SQL literal (a list, a NaN...).
    """
    if isinstance(value, enum.Enum):
        value = value.value
    if value is None:
        return "NULL"
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            raise UserError(f"{where}: {value!r} has no SQL literal")
        return repr(value)
    if isinstance(value, dt.date | dt.datetime | dt.time):
        value = value.isoformat()
    path = getattr(value, "path", None)
    if isinstance(path, str):
        value = path
    if isinstance(value, str):
        return "'" + value.replace("'", "''") + "'"
    raise UserError(
        f"{where}: a {type(value).__name__} cannot be placed in a query (use a str, int, float, "
        "bool, date, enum or None; pass tables as dataframes)"
    )


def _quote_ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _frame_kind(frame: Any) -> str:
    return type(frame).__module__.split(".")[0]


def _as_table(value: Any, engine: str) -> Any:
    """An input frame as the engine takes it: pandas for SQLite; pandas or Arrow for DuckDB."""
    if hasattr(value, "open") and hasattr(value, "all"):  # a lazily read frame (StructuredDataset)
        import pandas as pd

        value = value.open(pd.DataFrame).all()
    kind = _frame_kind(value)
    if kind == "polars":
        return value.to_arrow() if engine == "duckdb" else value.to_pandas()
    if kind == "pyarrow" and engine == "sqlite":
        return value.to_pandas()
    return value


def _database(config: SQLConfig, task_name: str) -> str:
    path = config.database.removeprefix("file://")
    if not os.path.isfile(path):
        raise UserError(f"SQL task {task_name!r}: no database file at {path!r}")
    if not config.compressed:
        return path
    with zipfile.ZipFile(path) as archive:
        names = [
            n for n in archive.namelist() if n.endswith((".db", ".sqlite", ".sqlite3", ".duckdb"))
        ]
        if len(names) != 1:
            raise UserError(
                f"SQL task {task_name!r}: {path!r} must hold one database file "
                f"(.db/.sqlite/.sqlite3/.duckdb), holds {names or 'none'}"
            )
        return archive.extract(names[0], work_directory("sql-"))


def render_query(config: SQLConfig, kwargs: Mapping[str, Any], task_name: str) -> str:
    """The query with its placeholders replaced."""

    def sub(m: Any) -> str:
        var = m.group(2)
        if var in config.tables:
            return _quote_ident(var) if config.literals else var
        if not config.literals:
            return str(kwargs[var])
        return sql_literal(kwargs[var], f"SQL task {task_name!r} input {var!r}")

    return PLACEHOLDER.sub(sub, config.query)


def run_sql(task_name: str, config: SQLConfig, kwargs: Mapping[str, Any]) -> Any:
    """Run an SQL task's query with these inputs; the result as a dataframe.

    Raises:
        UserError: the query failed (the message names the task and shows the query), the
            database file is missing, DuckDB is not installed.
    """
    import pandas as pd

    query = render_query(config, kwargs, task_name)
    database = _database(config, task_name) if config.database else ""
    tables = {n: _as_table(kwargs[n], config.engine) for n in config.tables}
    try:
        if config.engine == "duckdb":
            frame = _run_duckdb(query, database, tables)
        else:
            frame = _run_sqlite(query, database, tables)
    except UserError:
        raise
    except Exception as exc:  # the engines' and pandas' errors: the query's fault
        raise UserError(
            f"SQL task {task_name!r}: the query failed: {type(exc).__name__}: {exc}\nquery: {query}"
        ) from exc
    if config.output == "pyarrow":
        import pyarrow as pa

        return pa.Table.from_pandas(frame, preserve_index=False)
    if config.output == "polars":
        import polars as pl

        return pl.from_pandas(frame)
    assert isinstance(frame, pd.DataFrame)
    return frame


def _run_sqlite(query: str, database: str, tables: Mapping[str, Any]) -> Any:
    import sqlite3

    import pandas as pd

    con = sqlite3.connect("file::memory:", uri=True)
    try:
        if database:  # read-only, its tables found by their bare names
            uri = pathlib.Path(database).resolve().as_uri() + "?mode=ro"
            con.execute("ATTACH DATABASE ? AS db", (uri,))
        for name, frame in tables.items():
            frame.to_sql(name, con, index=False)
        return pd.read_sql_query(query, con)
    finally:
        con.close()


def _run_duckdb(query: str, database: str, tables: Mapping[str, Any]) -> Any:
    try:
        import duckdb
    except ImportError:
        raise UserError(_DUCKDB_MISSING) from None
    con = duckdb.connect(database or ":memory:", read_only=bool(database))
    try:
        for name, frame in tables.items():
            con.register(name, frame)
        return con.execute(query).df()
    finally:
        con.close()


def _is_table(types: Any, tp: Any) -> bool:
    try:
        return bool(types.to_spec(tp).kind == "dataframe")
    except AirfoilError:
        return False


def _output_kind(tp: Any) -> str:
    module = getattr(tp, "__module__", "").split(".")[0]
    if module == "pyarrow" and getattr(tp, "__name__", "") == "Table":
        return "pyarrow"
    if module == "polars" and getattr(tp, "__name__", "") == "DataFrame":
        return "polars"
    return "pandas"


def sql_task(
    name: str,
    query: str,
    *,
    inputs: Mapping[str, Any] | None = None,
    engine: Engine = "sqlite",
    database: str = "",
    compressed: bool = False,
    literals: bool = True,
    output_type: Any = None,
    _module: str | None = None,
    **options: Any,
) -> TaskDef[..., Any]:
    """Declare a task that runs an SQL query and returns its result as a dataframe.

    Example:
        >>> big = af.sql_task(
        ...     "big_orders",
        ...     "SELECT * FROM {inputs.orders} WHERE amount > {inputs.least}",
        ...     inputs={"orders": pd.DataFrame, "least": float},
        ... )

    Args:
        name: the task's name (within its module).
        query: the query; ``{inputs.NAME}`` is replaced by the input's SQL literal, or by the
            table's quoted name for a dataframe input.
        inputs: the typed inputs, by name (dataframe inputs are tables).
        engine: ``sqlite`` (the standard library's) or ``duckdb`` (needs ``pip install duckdb``).
        database: a local database file the query reads (read-only), or "".
        compressed: ``database`` is a zip archive holding one database file.
        literals: ``False`` places scalar inputs as their plain text (flytekit's way): only
            for trusted values, a quote in one breaks (or changes) the query.
        output_type: the result's type: ``pd.DataFrame`` (default), ``pa.Table``,
            ``pl.DataFrame`` (or a dataframe type of a plugin that takes a pandas frame).
        options: the options of :func:`airfoil.task`.

    Raises:
        DefinitionError: a placeholder naming no input, an unknown engine, DuckDB asked and not
            installed, a remote database.
    """
    kind = "SQL task"
    check_name(kind, name)
    if engine not in ("sqlite", "duckdb"):
        raise DefinitionError(
            f"{kind} {name!r}: unknown engine {engine!r}: use 'sqlite' or 'duckdb'"
        )
    if engine == "duckdb" and importlib.util.find_spec("duckdb") is None:
        raise DefinitionError(f"{kind} {name!r}: {_DUCKDB_MISSING}")
    if not isinstance(query, str) or not query.strip():
        raise DefinitionError(f"{kind} {name!r}: the query is empty")
    if not isinstance(database, str):
        raise DefinitionError(
            f"{kind} {name!r}: database takes a local file's path (a str), not {database!r}"
        )
    if "://" in database and not database.startswith("file://"):
        raise DefinitionError(
            f"{kind} {name!r}: database {database!r} is remote; download it first and give its "
            "local path"
        )
    input_types = dict(inputs or {})
    check_placeholders(kind, name, query, "the query", input_types, None)
    types = type_engine()
    tables = tuple(n for n, tp in input_types.items() if types.to_spec(tp).kind == "dataframe")
    if output_type is None:
        import pandas as pd

        output_type = pd.DataFrame
    if not _is_table(types, output_type):
        raise DefinitionError(
            f"{kind} {name!r}: output_type is {output_type!r}; a query gives a table: "
            "pd.DataFrame, pa.Table or pl.DataFrame"
        )
    config = SQLConfig(
        query=query,
        engine=engine,
        database=database,
        compressed=compressed,
        literals=literals,
        tables=tables,
        output=_output_kind(output_type),
    )
    module = _module or caller_module()

    def body(kwargs: dict[str, Any]) -> Any:
        return run_sql(name, config, kwargs)

    return declare(
        SQL_TYPE,
        config,
        prefix="sql",
        name=name,
        inputs=input_types,
        returns=output_type,
        body=body,
        module=module,
        doc=f"SQL task {name}.",
        options=options,
    )
