"""flytekit's ``SQLite3Task`` (``flytekit.extras.sqlite3.task``), mapped onto Airfoil's ``sql``
task type (:func:`airfoil.sql_task` with ``engine="sqlite"``).

``{{ .inputs.NAME }}`` (or ``{{.inputs.NAME}}``) in the query is replaced by the input's text,
as flytekit does (not as an SQL literal). The database is a local file (``uri``, optionally
``file://``); ``compressed=True`` means a zip archive holding one ``.db`` / ``.sqlite`` file.
The query text and the database's location are part of the task's version.
"""

from __future__ import annotations

import re
import sys
from dataclasses import dataclass
from typing import Any

from airfoil.core.errors import DefinitionError
from airfoil.sdk._sql import sql_task

__all__ = ["SQLTask", "SQLite3Config", "SQLite3Task", "flyte_placeholders"]

_INPUT = re.compile(r"\{\{\s*\.inputs\.([A-Za-z_][A-Za-z0-9_]*)\s*\}\}")


def flyte_placeholders(template: str) -> str:
    """flytekit's ``{{ .inputs.NAME }}`` placeholders as Airfoil's ``{inputs.NAME}``."""
    return _INPUT.sub(lambda m: "{inputs." + m.group(1) + "}", template)


@dataclass(frozen=True)
class SQLite3Config:
    """Where the database is: a local path (``file://`` allowed); ``compressed``: a zip of it."""

    uri: str
    compressed: bool = False


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

    from airfoil.compat.flytekit._decorators import airfoil_options, finish_task
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
    kwargs, recorded = airfoil_options(options)
    made = sql_task(
        name,
        flyte_placeholders(query_template),
        inputs=input_types,
        engine="sqlite",
        database=task_config.uri,
        compressed=task_config.compressed,
        literals=False,
        output_type=out_type,
        _module=sys._getframe(1).f_globals.get("__name__", "__main__"),
        **kwargs,
    )
    return finish_task(made, recorded)


def SQLTask(
    name: str,
    query_template: str,
    task_config: Any = None,
    task_type: str = "sql_task",
    inputs: dict[str, Any] | None = None,
    metadata: Any = None,
    outputs: dict[str, Any] | None = None,
    **options: Any,
) -> Any:
    """flytekit's generic ``SQLTask``: a query for a database a plugin reaches, which a local
    run cannot run, so tests mock it (``flytekit.testing.task_mock(sql)`` / ``patch(sql)``, as
    flytekit's docs do). Its typed inputs and outputs (``kwtypes``) make it a task like any
    other; run unmocked, it fails saying so.

    Raises:
        DefinitionError: an empty name, an option ``@task`` does not have.
    """
    from airfoil.compat.flytekit._decorators import TaskMetadata, airfoil_options, finish_task
    from airfoil.core.errors import UserError
    from airfoil.sdk import _task
    from airfoil.sdk._command_tasks import check_name, outputs_type, synthesise

    check_name("SQLTask", name)
    if metadata is not None:
        if not isinstance(metadata, TaskMetadata):
            raise DefinitionError(f"SQLTask {name!r}: metadata= takes TaskMetadata(...)")
        options.setdefault("retries", metadata.retries)
        options.setdefault("timeout", metadata.timeout)
    kwargs, recorded = airfoil_options(options)
    recorded.update(task_type=task_type, query_template=query_template, task_config=task_config)

    def unmocked(_given: dict[str, Any]) -> Any:
        raise UserError(
            f"SQLTask {name!r} is a generic SQL task: nothing runs its query locally. Mock it "
            "in tests (flytekit.testing.task_mock / patch), or use SQLite3Task / "
            "airfoil.sql_task for a database this machine can open"
        )

    fn = synthesise(
        prefix="sql",
        name=name,
        inputs=dict(inputs or {}),
        returns=outputs_type(name, dict(outputs or {})),
        body=unmocked,
        module=sys._getframe(1).f_globals.get("__name__", "__main__"),
        doc=query_template,
    )
    return finish_task(_task.task(**kwargs)(fn), recorded)
