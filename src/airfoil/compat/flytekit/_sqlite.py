"""flytekit's ``SQLite3Task`` (``flytekit.extras.sqlite3.task``): a query templated with typed
inputs, run on a local SQLite database, returning a dataframe.

``{{ .inputs.NAME }}`` (or ``{{.inputs.NAME}}``) in the query is replaced by the input's value.
The database is a local file (``uri``, optionally ``file://``); ``compressed=True`` means a zip
archive holding one ``.db`` / ``.sqlite`` file, extracted into the attempt's scratch directory.
The query text and the database's location are part of the task's version.
"""

from __future__ import annotations

import inspect
import os
import re
import sys
import zipfile
from dataclasses import dataclass
from typing import Any

from airfoil.core.errors import DefinitionError, UserError

__all__ = ["SQLite3Config", "SQLite3Task"]

_INPUT = re.compile(r"\{\{\s*\.inputs\.([A-Za-z_][A-Za-z0-9_]*)\s*\}\}")


@dataclass(frozen=True)
class SQLite3Config:
    """Where the database is: a local path (``file://`` allowed); ``compressed``: a zip of it."""

    uri: str
    compressed: bool = False


def _database(config: SQLite3Config, scratch: str) -> str:
    path = config.uri.removeprefix("file://")
    if not os.path.exists(path):
        raise UserError(f"SQLite3Task: no database at {path!r}")
    if not config.compressed:
        return path
    with zipfile.ZipFile(path) as archive:
        names = [n for n in archive.namelist() if n.endswith((".db", ".sqlite", ".sqlite3"))]
        if len(names) != 1:
            raise UserError(
                f"SQLite3Task: {path!r} must hold one .db/.sqlite file, holds {names or 'none'}"
            )
        return archive.extract(names[0], scratch)


def SQLite3Task(
    name: str,
    query_template: str,
    inputs: dict[str, type] | None = None,
    task_config: SQLite3Config | None = None,
    output_schema_type: Any = None,
    **options: Any,
) -> Any:
    """A task that runs an SQL query on a local SQLite database (flytekit's ``SQLite3Task``).

    Its one output is the result as ``output_schema_type``: a ``StructuredDataset`` (the
    default) or ``pd.DataFrame``.

    Raises:
        DefinitionError: no ``task_config``, a remote ``uri``, a query naming an input the task
            does not have, another output type.
    """
    import pandas as pd

    from airfoil.compat.flytekit._decorators import task
    from airfoil.compat.flytekit._types import StructuredDataset

    if task_config is None:
        raise DefinitionError(f"SQLite3Task {name!r}: give task_config=SQLite3Config(uri=...)")
    if "://" in task_config.uri and not task_config.uri.startswith("file://"):
        raise DefinitionError(
            f"SQLite3Task {name!r}: {task_config.uri!r} is remote; download the database "
            "first and give its local path"
        )
    input_types = dict(inputs or {})
    unknown = sorted(set(_INPUT.findall(query_template)) - set(input_types))
    if unknown:
        raise DefinitionError(
            f"SQLite3Task {name!r}: the query names input(s) {', '.join(unknown)} that are not "
            f"in inputs= ({', '.join(input_types) or 'none'})"
        )
    out_type = output_schema_type or StructuredDataset
    if out_type not in (StructuredDataset, pd.DataFrame):
        raise DefinitionError(
            f"SQLite3Task {name!r}: output_schema_type must be StructuredDataset or "
            f"pd.DataFrame, not {out_type!r}"
        )
    config = task_config

    def run_query(**kwargs: Any) -> Any:
        import sqlite3

        from airfoil.sdk._context import current_context

        query = _INPUT.sub(lambda m: str(kwargs[m.group(1)]), query_template)
        database = _database(config, current_context().scratch_dir)
        print(f"Connecting to db {database}")  # what flytekit prints, in the attempt's log
        print(f"Interpolated query {query}")
        with sqlite3.connect(database) as con:
            try:
                frame = pd.read_sql_query(query, con)
            except Exception as exc:  # sqlite3 and pandas errors: the query's fault
                raise UserError(f"SQLite3Task {name!r}: the query failed: {exc}") from exc
        return StructuredDataset(dataframe=frame) if out_type is StructuredDataset else frame

    params = [
        inspect.Parameter(n, inspect.Parameter.KEYWORD_ONLY, annotation=tp)
        for n, tp in input_types.items()
    ]
    run_query.__signature__ = inspect.Signature(params, return_annotation=out_type)  # type: ignore[attr-defined]
    run_query.__annotations__ = {**input_types, "return": out_type}
    run_query.__module__ = sys._getframe(1).f_globals.get("__name__", "__main__")
    run_query.__qualname__ = run_query.__name__ = f"sqlite_{re.sub(r'[^A-Za-z0-9_]', '_', name)}"
    run_query.__doc__ = f"SQLite query task {name}."
    made = task(**options)(run_query)
    made._options["config"] = {"query": query_template, "uri": config.uri}  # in the version
    made.name = name if "." in name else f"{made.module}.{name}"
    return made
