"""Scheduling: project quotas, admission queue snapshots, task run-time history.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-28

Frozen: it spells the tables out instead of importing ``_schema``.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | Sequence[str] | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _key() -> sa.types.TypeEngine[str]:
    return sa.String().with_variant(sa.String(collation="C"), "postgresql")


def upgrade() -> None:
    op.create_table(
        "project_quotas",
        sa.Column("project", _key(), primary_key=True),
        sa.Column("record", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("project", name="pk_project_quotas"),
    )
    op.create_table(
        "queue_snapshots",
        sa.Column("owner", _key(), primary_key=True),
        sa.Column("updated_at", sa.Double(), nullable=False),
        sa.Column("record", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("owner", name="pk_queue_snapshots"),
    )
    op.create_table(
        "task_runtimes",
        sa.Column("execution_id", _key(), primary_key=True),
        sa.Column("node_id", _key(), primary_key=True),
        sa.Column("attempt", sa.Integer(), primary_key=True, autoincrement=False),
        sa.Column("task", _key(), nullable=False),
        sa.Column("ended_at", sa.Double(), nullable=False),
        sa.Column("duration", sa.Double(), nullable=False),
        sa.PrimaryKeyConstraint("execution_id", "node_id", "attempt", name="pk_task_runtimes"),
    )
    op.create_index("ix_task_runtimes_task_ended_at", "task_runtimes", ["task", "ended_at"])


def downgrade() -> None:
    op.drop_index("ix_task_runtimes_task_ended_at", table_name="task_runtimes")
    op.drop_table("task_runtimes")
    op.drop_table("queue_snapshots")
    op.drop_table("project_quotas")
