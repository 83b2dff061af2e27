"""Task history: ``task_runs`` keeps every ended attempt of a task version (project, task,
code version, start, end, success), written in batches by the observability hooks and read
by ``airfoil tasks stats`` and the anomaly flags of ``airfoil executions show``.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-04

Frozen: it spells the table out.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011"
down_revision: str | Sequence[str] | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_KEY = sa.String().with_variant(sa.String(collation="C"), "postgresql")


def upgrade() -> None:
    op.create_table(
        "task_runs",
        sa.Column("execution_id", _KEY, nullable=False),
        sa.Column("node_id", _KEY, nullable=False),
        sa.Column("attempt", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("project", _KEY, nullable=False),
        sa.Column("task", _KEY, nullable=False),
        sa.Column("version", _KEY, nullable=False),
        sa.Column("started_at", sa.Double(), nullable=False),
        sa.Column("ended_at", sa.Double(), nullable=False),
        sa.Column("ok", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(
            ["execution_id"],
            ["executions.id"],
            name="fk_task_runs_execution_id",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("execution_id", "node_id", "attempt", name="pk_task_runs"),
    )
    op.create_index(
        "ix_task_runs_project_task_version_ended_at",
        "task_runs",
        ["project", "task", "version", "ended_at"],
    )


def downgrade() -> None:
    op.drop_index("ix_task_runs_project_task_version_ended_at", table_name="task_runs")
    op.drop_table("task_runs")
