"""Execution names per project: ``executions.name`` is the name a project addresses an
execution by, unique within ``(project, domain)`` (index ``ux_executions_project_name_domain``),
while ``id`` stays the globally unique key that nodes, attempts, events, logs and blobs use.
Before, the id was the name and unique across every project: a launch in one project could be
refused for a name another project used (and so learn it).

Every row written before keeps its id as its name, so it is addressed in its project exactly
as before. Two old rows cannot collide: their ids were unique.

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-05

Frozen: it spells the column and index out.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0019"
down_revision: str | Sequence[str] | None = "0018"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_KEY = sa.String().with_variant(sa.String(collation="C"), "postgresql")


def upgrade() -> None:
    # NOT NULL with a default: SQLite adds it in place. Altering the column afterwards would
    # copy the table, and dropping the old copy of ``executions`` with foreign keys enforced
    # would cascade into every child table.
    op.add_column(
        "executions", sa.Column("name", _KEY, nullable=False, server_default=sa.text("''"))
    )
    op.execute("UPDATE executions SET name = id")
    op.create_index(
        "ux_executions_project_name_domain",
        "executions",
        ["project", "name", "domain"],
        unique=True,
    )


def downgrade() -> None:
    op.drop_index("ux_executions_project_name_domain", table_name="executions")
    op.drop_column("executions", "name")  # in place (SQLite >= 3.35), never a table copy
