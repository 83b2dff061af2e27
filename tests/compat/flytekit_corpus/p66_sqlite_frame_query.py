import os
import sqlite3
import tempfile

import pandas as pd

from airfoil.compat.flytekit import kwtypes, task, workflow
from airfoil.compat.flytekit.extras.sqlite3.task import SQLite3Config, SQLite3Task

DB = os.path.join(tempfile.gettempdir(), "p66-books.db")
with sqlite3.connect(DB) as con:
    con.execute("DROP TABLE IF EXISTS books")
    con.execute("CREATE TABLE books (title TEXT, genre TEXT, pages INTEGER)")
    con.executemany(
        "INSERT INTO books VALUES (?, ?, ?)",
        [
            ("Dune", "scifi", 412),
            ("Emma", "classic", 474),
            ("Neuromancer", "scifi", 271),
            ("Persuasion", "classic", 249),
            ("Hyperion", "scifi", 482),
        ],
    )

by_genre = SQLite3Task(
    name="by_genre",
    query_template=(
        "SELECT title, pages FROM books WHERE genre = '{{ .inputs.genre }}' "
        "AND pages >= {{.inputs.min_pages}} ORDER BY pages"
    ),
    inputs=kwtypes(genre=str, min_pages=int),
    output_schema_type=pd.DataFrame,
    task_config=SQLite3Config(uri=DB),
)


@task
def describe(df: pd.DataFrame) -> str:
    rows = [f"{t} ({p})" for t, p in zip(df["title"], df["pages"], strict=True)]
    return f"{len(df)} books: " + "; ".join(rows)


@workflow
def wf(genre: str, min_pages: int) -> str:
    return describe(df=by_genre(genre=genre, min_pages=min_pages))


if __name__ == "__main__":
    print(wf(genre="scifi", min_pages=300))
    print(wf(genre="classic", min_pages=0))
    print(wf(genre="poetry", min_pages=0))
